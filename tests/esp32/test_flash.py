"""`flash` end to end through esptool's real API against a fake ROM loader on a pty
(tests/esp32/fake_rom_loader.py): the board's flash must hold exactly esptool's merged image;
a chip mismatch, a dropped link and a missing port fail with one line naming the port."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from build_tools import store_image
from build_tools.cli import run
from build_tools.errors import BuildToolsError
from build_tools.firmware import esp_idf as firmware_esp
from build_tools.targets import Target, load_target
from build_tools.toolchains import esptool, platformio

from .conftest import ESP_TARGETS
from .fake_rom_loader import FakeRomLoader


def _standin(size: int) -> bytes:
    """Bytes that compress about as well as firmware does (esptool sends incompressible data
    uncompressed)."""
    rng = random.Random(size)
    return bytes(rng.choice(b"\x00\x01\x02\xffABC") for _ in range(size))


def _layout(target: Target) -> Path:
    """flash.json for the target under the (isolated) build dir: the real partition table and
    a real store image; the bootloader and app are stand-in bytes (no ESP-IDF build here)."""
    d = firmware_esp.project_dir(target) / "images"
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "bootloader": (d / "bootloader.bin", _standin(21_000)),
        "partition-table": (d / "partitions.bin", firmware_esp.partition_table_binary(target)),
        "app": (d / "firmware.bin", _standin(150_001)),
        "data": (
            d / "storage.bin",
            store_image.build_image(
                [
                    store_image.StoreItem(store_image.KIND_MODULE, "g", _standin(30_000)),
                    store_image.StoreItem(store_image.KIND_MODEL, "m", _standin(50_000)),
                ]
            ),
        ),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return firmware_esp.write_flash_json(target, {k: p for k, (p, _) in files.items()})


def _flash_bytes(target: Target) -> int:
    return target.memory.flash_kib * 1024


@pytest.mark.parametrize("name", ESP_TARGETS)
@pytest.mark.parametrize("stub", [True, False], ids=["stub", "rom"])
def test_flash_leaves_exactly_the_merged_image(
    name: str, stub: bool, build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = load_target(name)
    _layout(target)
    plan = firmware_esp.load_flash_plan(target)
    merged = esptool.merged_image(plan)
    assert target.flash is not None
    with FakeRomLoader(target.flash.chip, _flash_bytes(target)) as fake:
        argv = ["flash", name, "--port", fake.port, "--before", "no-reset", "--after", "no-reset"]
        # the stub can switch to a faster baud rate (the ROM path stays at 115200)
        assert run([*argv] + (["--baud", "460800"] if stub else ["--no-stub"])) == 0
    assert bytes(fake.flash[: len(merged)]) == merged
    assert set(fake.flash[len(merged) :]) == {0xFF}
    assert fake.stub is stub
    assert ("CHANGE_BAUDRATE" in fake.log) is stub
    assert "FLASH_DEFL_DATA" in fake.log and "FLASH_DATA" not in fake.log  # compressed
    assert fake.log.count("SPI_FLASH_MD5") >= len(plan.regions)  # every region verified
    captured = capsys.readouterr()
    chip = esptool.chip_display_name(target.flash.chip)
    assert f"{name}: {chip} (MAC " in captured.out
    assert captured.out.count("written, MD5 verified") == 4
    assert "[##############################] 100%" in captured.err  # the progress bar


def test_only_the_data_partition_can_be_rewritten(build_dir: Path) -> None:
    target = load_target("esp32c3")
    _layout(target)
    plan = firmware_esp.load_flash_plan(target)
    data = next(r for r in plan.regions if r.role == "data")
    with FakeRomLoader("esp32c3", _flash_bytes(target)) as fake:
        argv = ["flash", "esp32c3", "--port", fake.port, "--only", "data"]
        assert run([*argv, "--before", "no-reset", "--after", "no-reset"]) == 0
    image = data.data()
    assert bytes(fake.flash[data.offset : data.offset + len(image)]) == image
    rest = fake.flash[: data.offset] + fake.flash[data.offset + len(image) :]
    assert set(rest) == {0xFF}  # bootloader, table and app untouched


def test_a_board_of_another_chip_is_refused_before_anything_is_written(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _layout(load_target("esp32c3"))
    with FakeRomLoader("esp32s3", 8 << 20) as fake:
        assert run(["flash", "esp32c3", "--port", fake.port, "--before", "no-reset"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"error: {fake.port}: the board is an ESP32-S3, the target needs an ESP32-C3")
    assert not any(c.startswith(("FLASH", "MEM")) for c in fake.log)
    assert set(fake.flash) == {0xFF}


def test_a_dropped_link_mid_write_fails_cleanly(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _layout(load_target("esp32c3"))
    with FakeRomLoader("esp32c3", 4 << 20, drop_after_writes=3) as fake:
        argv = ["flash", "esp32c3", "--port", fake.port, "--before", "no-reset", "--no-stub"]
        assert run(argv) == 2
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    assert line.startswith(f"error: {fake.port}: flashing failed: "), err
    assert fake.dropped


def test_no_board_on_the_port_is_one_line_naming_it(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _layout(load_target("esp32"))
    port = str(build_dir / "ttyNOPE")
    assert run(["flash", "esp32", "--port", port]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and err[0].startswith(f"error: {port}: ")
    assert "port is busy or doesn't exist" in err[0]


def test_dry_run_lists_offsets_files_and_hashes(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = load_target("esp32")
    layout = json.loads(_layout(target).read_text())
    assert run(["flash", "esp32", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["chip"] == "esp32" and out["flash_size"] == "4MB"
    assert [(r["role"], r["offset"]) for r in out["regions"]] == [
        ("bootloader", 0x1000),
        ("partition-table", 0x8000),
        ("app", 0x10000),
        ("data", 0x210000),
    ]
    assert [r["sha256"] for r in out["regions"]] == [r["sha256"] for r in layout["regions"]]
    assert run(["flash", "esp32", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "0x00001000  bootloader" in text and layout["regions"][3]["sha256"] in text


def test_a_file_changed_since_the_build_is_refused(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = load_target("esp32c3")
    _layout(target)
    app = firmware_esp.project_dir(target) / "images" / "firmware.bin"
    app.write_bytes(b"\x00" + app.read_bytes()[1:])
    assert run(["flash", "esp32c3", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "app image" in err and "changed since the build" in err


def test_without_a_build_flash_says_what_to_run(
    build_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["flash", "esp32s3", "--port", "/dev/ttyUSB0"]) == 2
    err = capsys.readouterr().err
    assert "esp32s3: no flash layout at" in err and "build esp32s3" in err


def test_build_collects_the_images_into_flash_json(
    build_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`build` after PlatformIO: PlatformIO itself cannot run here (no ESP-IDF), so a fake
    stands in for `pio run` and leaves the files it would; everything after it is real."""
    target = load_target("esp32s3")

    def fake_pio_build(project: Path, env: str) -> platformio.BuildOutputs:
        out = platformio.outputs(project, env)
        out.elf.parent.mkdir(parents=True, exist_ok=True)
        for path, size in ((out.bootloader, 20_000), (out.app, 400_000), (out.elf, 1_000)):
            path.write_bytes(_standin(size))
        out.partitions.write_bytes(firmware_esp.partition_table_binary(target))
        return out

    monkeypatch.setattr(platformio, "build", fake_pio_build)
    assert run(["build", "esp32s3"]) == 0
    assert "flash layout" in capsys.readouterr().out
    layout = json.loads(firmware_esp.flash_json_path(target).read_text())
    assert (layout["chip"], layout["flash_mode"], layout["flash_size"]) == ("esp32s3", "dio", "8MB")
    regions = {r["role"]: r for r in layout["regions"]}
    assert [regions[r]["offset"] for r in firmware_esp.ROLES] == [0x0, 0x8000, 0x10000, 0x310000]
    data = Path(regions["data"]["file"]).read_bytes()
    held = store_image.live_items(data)  # the data image holds the target's guests and models
    assert {n for k, n in held if k == store_image.KIND_MODEL} == set(target.guests.models)
    assert run(["flash", "esp32s3", "--dry-run"]) == 0


def test_an_app_larger_than_its_partition_is_refused(build_dir: Path) -> None:
    target = load_target("esp32c3")
    d = build_dir / "imgs"
    d.mkdir(parents=True)
    images = {}
    for role, size in (
        ("bootloader", 100),
        ("partition-table", 3072),
        ("app", 0x200001),
        ("data", 10),
    ):
        images[role] = d / f"{role}.bin"
        images[role].write_bytes(b"\x00" * size)
    with pytest.raises(
        BuildToolsError, match=r"app image is 2097153 bytes, partition 'factory' holds 2097152"
    ):
        firmware_esp.flash_layout(target, images)
