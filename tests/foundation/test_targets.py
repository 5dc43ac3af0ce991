from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_tools.errors import TargetError
from build_tools.targets import load_target, load_target_file, load_targets

INVALID = Path(__file__).parent / "invalid_targets"
EXPECTED_TARGETS = {"esp32", "esp32s3", "esp32c3", "rpi4", "rpi5", "host", "qemu-rv32"}


def test_all_shipped_targets_load() -> None:
    targets = load_targets()
    assert set(targets) >= EXPECTED_TARGETS
    for t in targets.values():
        assert t.source.stem == t.name
        # Branch-free invariants the rest of the code relies on.
        if t.kind == "mcu":
            assert t.limits.instance_memory_kib <= t.memory.ram_kib
        if t.build.system == "platformio":
            assert t.flash is not None


def test_fields_drive_behaviour_not_names() -> None:
    c3 = load_target("esp32c3")
    assert (c3.kind, c3.arch, c3.memory.ram_kib, c3.memory.flash_kib) == (
        "mcu",
        "riscv32",
        400,
        4096,
    )
    assert (c3.runtime.engine, c3.runtime.nn_backend, c3.runtime.platform) == (
        "wamr",
        "tflm",
        "esp-idf",
    )
    assert c3.flash is not None and c3.flash.bootloader_offset == 0
    assert load_target("esp32").flash.bootloader_offset == 0x1000  # type: ignore[union-attr]
    rpi = load_target("rpi4")
    assert (rpi.arch, rpi.runtime.engine, rpi.connection.transport) == (
        "aarch64",
        "wasmtime",
        "ssh",
    )
    q = load_target("qemu-rv32")
    assert (q.runtime.engine, q.runtime.nn_backend, q.connection.transport) == (
        "wasm2c",
        "builtin",
        "qemu",
    )


def test_guest_profile_is_identical_everywhere() -> None:
    # The same .wasm bytes must run on every target (content addressing depends on it).
    profiles = {
        (t.guests.stack_kib, t.guests.initial_memory_kib, t.guests.max_memory_kib)
        for t in load_targets().values()
    }
    assert len(profiles) == 1


def _cases() -> list[Path]:
    return sorted(INVALID.glob("*/*.toml"))


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.parent.name)
def test_invalid_target_reports_file_field_and_reason(path: Path) -> None:
    expected = path.read_bytes().splitlines()[0].decode().removeprefix("# expect: ")
    with pytest.raises(TargetError) as e:
        load_target_file(path)
    assert str(e.value) == f"{path.name}: {expected}"


def test_invalid_case_count() -> None:
    assert len(_cases()) >= 15


def test_unknown_target_lists_known(tmp_path: Path) -> None:
    shutil.copy(INVALID.parent.parent.parent / "targets" / "host.toml", tmp_path / "host.toml")
    with pytest.raises(TargetError) as e:
        load_target("esp99", tmp_path)
    assert str(e.value) == "unknown target 'esp99'"
    assert e.value.hint == "known targets: host"
