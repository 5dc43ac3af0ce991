"""The generated PlatformIO projects of the three ESP32 targets, checked by the real parsers:
PlatformIO's ProjectConfig, the pinned board definitions, idf-component-manager (2.x and 3.x),
esp-idf-kconfig against WAMR's and ESP-NN's Kconfig files, esp-idf-defs' partition table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from esp_idf_defs.partitions import PartitionTable

from build_tools import runtime_c, store_image
from build_tools.firmware import esp_idf as firmware_esp
from build_tools.targets import Target, load_target
from build_tools.toolchains import platformio

from .conftest import IDF2_PYTHON, third_party

CHECKER = Path(__file__).with_name("check_generated.py")
Project = tuple[Target, firmware_esp.Project]


def _validators() -> list[str]:
    if not IDF2_PYTHON.is_file():
        pytest.fail(f"{IDF2_PYTHON} missing: run bash ci/setup.sh (it makes the 2.x venv)")
    return [sys.executable, str(IDF2_PYTHON)]


def _check(python: str, *args: str) -> dict:
    proc = subprocess.run(
        [python, str(CHECKER), *args], capture_output=True, text=True, check=True, timeout=120
    )
    result: dict = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_platformio_ini_lints_clean_and_names_the_pinned_platform(esp_project: Project) -> None:
    target, project = esp_project
    ini = project.directory / "platformio.ini"
    report = platformio.lint(ini)
    assert report["errors"] == [], report
    assert report["warnings"] == [], report
    from platformio.project.config import ProjectConfig

    cfg = ProjectConfig(str(ini))
    env = f"env:{target.build.env}"
    assert cfg.get(env, "platform") == "espressif32 @ 6.13.0"
    assert cfg.get(env, "framework") == ["espidf"]
    assert cfg.get(env, "board") == target.build.board
    assert cfg.get(env, "board_build.partitions") == "partitions.csv"
    assert cfg.get(env, "board_upload.flash_size") == target.flash.flash_size  # type: ignore[union-attr]


def test_board_exists_in_the_pinned_platform_and_matches_the_chip(esp_project: Project) -> None:
    target, _ = esp_project
    boards = third_party("platform-espressif32")
    platform = json.loads((boards / "platform.json").read_text())
    assert platform["version"] == platformio.PLATFORM_VERSION
    board_json = boards / "boards" / f"{target.build.board}.json"
    assert board_json.is_file(), f"board {target.build.board} not in platform 6.13.0"
    board = json.loads(board_json.read_text())
    assert board["build"]["mcu"] == target.flash.chip  # type: ignore[union-attr]
    assert "espidf" in board["frameworks"]
    assert board["upload"]["flash_size"] == target.flash.flash_size  # type: ignore[union-attr]


def test_idf_component_manifest_is_valid_for_both_manager_lines(esp_project: Project) -> None:
    _, project = esp_project
    versions = []
    for python in _validators():
        result = _check(python, "manifest", str(project.directory / "src"))
        assert result["valid"], result
        assert result["dependencies"] == [
            "espressif/esp-nn",
            "espressif/esp-tflite-micro",
            "idf",
            "wasm-micro-runtime",
        ]
        versions.append(result["version"].split(".")[0])
    assert sorted(versions) == ["2", "3"]


def test_broken_manifest_is_rejected_by_both_manager_lines(tmp_path: Path) -> None:
    (tmp_path / "idf_component.yml").write_text(
        'dependencies:\n  espressif/esp-nn:\n    version: "==1.2.3"\n    revision: abc\n'
    )
    for python in _validators():
        result = _check(python, "manifest", str(tmp_path))
        assert not result["valid"], result


def _kconfig_top(tmp: Path) -> Path:
    wamr = third_party("wamr") / "build-scripts" / "esp-idf" / "wamr" / "Kconfig"
    esp_nn = third_party("esp-nn") / "Kconfig.projbuild"
    top = tmp / "Kconfig"
    top.write_text(f'mainmenu "check"\nsource "{wamr}"\nsource "{esp_nn}"\n')
    return top


def _allowed_idf_symbols() -> set[str]:
    lines = Path(__file__).with_name("idf_symbols.txt").read_text().splitlines()
    return {ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()}


def test_sdkconfig_defaults_load_against_the_real_kconfig_files(
    esp_project: Project, tmp_path: Path
) -> None:
    target, project = esp_project
    top = _kconfig_top(tmp_path)
    for python in _validators():
        result = _check(python, "kconfig", str(top), str(project.directory / "sdkconfig.defaults"))
        assert result["other_warnings"] == [], result
        unknown = set(result["undefined"]) - _allowed_idf_symbols()
        assert not unknown, f"not WAMR/ESP-NN symbols and not on the IDF allow-list: {unknown}"
        v = result["values"]
        # Interpreter only, the target's interpreter (runtime.wamr_interp), full loader; the
        # runtime brings its own WASI and wasi-nn.
        assert (v["WAMR_ENABLE_AOT"], v["WAMR_ENABLE_INTERP"]) == ("n", "y")
        fast = target.runtime.wamr_interp == "fast"
        assert (v["WAMR_INTERP_FAST"], v["WAMR_INTERP_CLASSIC"]) == (
            ("y", "n") if fast else ("n", "y")
        )
        assert (v["WAMR_INTERP_LOADER_NORMAL"], v["WAMR_INTERP_LOADER_MINI"]) == ("y", "n")
        assert v["WAMR_ENABLE_LIBC_WASI"] == v["WAMR_ENABLE_LIB_PTHREAD"] == "n"
        assert (v["NN_OPTIMIZED"], v["NN_SKIP_NUDGE"]) == ("y", "n")
    text = (project.directory / "sdkconfig.defaults").read_text()
    assert ("CONFIG_SPIRAM=y" in text) == (target.memory.psram_kib > 0)
    for key, value in target.build.sdkconfig:
        assert f"{key}={value}\n" in text


def test_a_misspelt_symbol_is_caught(tmp_path: Path) -> None:
    top = _kconfig_top(tmp_path)
    bad = tmp_path / "sdkconfig.defaults"
    bad.write_text("CONFIG_WAMR_ENABLE_INTERPRETER=y\nCONFIG_WAMR_ENABLE_AOT=maybe\n")
    for python in _validators():
        result = _check(python, "kconfig", str(top), str(bad))
        assert "WAMR_ENABLE_INTERPRETER" in set(result["undefined"]) - _allowed_idf_symbols()
        assert any("WAMR_ENABLE_AOT" in w for w in result["other_warnings"]), result


def test_partition_table_verifies_fits_and_holds_the_guests_and_models(
    esp_project: Project,
) -> None:
    target, project = esp_project
    flash = target.flash
    assert flash is not None
    csv = (project.directory / "partitions.csv").read_text()
    table = PartitionTable.from_csv(csv, partition_table_offset=flash.partition_table_offset)
    table.verify(partition_table_offset=flash.partition_table_offset)
    table.verify_size_fits(target.memory.flash_kib * 1024)
    assert [(p.name, p.offset, p.size) for p in table] == [
        (p.name, p.offset, p.size) for p in flash.partitions
    ]
    assert (
        PartitionTable.from_binary(project.partitions_bin.read_bytes()).to_csv() == table.to_csv()
    )
    data = firmware_esp.data_partition(flash)
    image = project.data_image.read_bytes()
    assert len(image) <= data.size
    assert project.skipped_models == {}, "every listed model must be in the shared data"
    held = store_image.live_items(image)
    assert {n for k, n in held if k == store_image.KIND_MODEL} == set(target.guests.models)
    assert {n for k, n in held if k == store_image.KIND_MODULE} == set(target.guests.modules)


def test_build_without_the_platform_exits_2_naming_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from build_tools.cli import run

    assert platformio.missing() is not None  # no PlatformIO registry here: the premise
    assert run(["build", "esp32c3"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: cannot build ")
    assert err[0].endswith("the PlatformIO platform espressif32 @ 6.13.0 is not installed")
    assert "pkg install --global --platform 'espressif32@6.13.0'" in err[1]


def test_generate_only_exits_0_and_writes_every_file(capsys: pytest.CaptureFixture[str]) -> None:
    from build_tools.cli import run

    assert run(["build", "esp32", "--generate-only"]) == 0
    out = capsys.readouterr().out
    assert "esp32: PlatformIO project in" in out
    d = firmware_esp.project_dir(load_target("esp32"))
    for rel in (
        "platformio.ini",
        "sdkconfig.defaults",
        "partitions.csv",
        "CMakeLists.txt",
        "src/CMakeLists.txt",
        "src/idf_component.yml",
        "gen/config/rt_config.h",
        "gen/rt_gen.cmake",
        "images/partitions.bin",
        "images/storage.bin",
    ):
        assert (d / rel).is_file(), rel


def test_src_component_includes_the_runtime_description_in_place(esp_project: Project) -> None:
    target, project = esp_project
    text = (project.directory / "src" / "CMakeLists.txt").read_text()
    included = re.search(r'include\("([^"]+)"\)', text)
    assert included is not None
    assert Path(included.group(1)) == runtime_c.runtime_dir() / "cmake" / "rt_components.cmake"
    for var, value in (
        ("RT_ENGINE", target.runtime.engine),
        ("RT_NN", target.runtime.nn_backend),
        ("RT_PLATFORM", target.runtime.platform),
        ("RT_GEN_DIR", str(project.sources.directory)),
        ("RT_CONFIG_DIR", str(project.sources.config_dir)),
    ):
        assert f'set({var} "{value}")' in text
    assert (project.sources.directory / "rt_gen.cmake").is_file()
    assert "RT_GEN_MODEL_SOURCES" not in text  # models live in the data partition
    # what the component files require under ESP_PLATFORM (tests/esp32/test_idf_component.py)
    assert "PRIV_REQUIRES ${RT_IDF_REQUIRES})" in text
    project_text = (project.directory / "CMakeLists.txt").read_text()
    assert f'set(RT_WAMR_INTERP "{target.runtime.wamr_interp}")' in project_text
    idf_project = runtime_c.runtime_dir() / "cmake" / "rt_idf_project.cmake"
    assert f'include("{idf_project}")\nproject({target.build.env})' in project_text


GOLDEN = Path(__file__).with_name("golden")
GOLDEN_FILES = ("platformio.ini", "sdkconfig.defaults", "partitions.csv", "src/idf_component.yml")


def test_generated_files_match_the_golden_copies(esp_project: Project) -> None:
    """Reviewed copies of the path-free generated files: a change to a template or a target
    file shows up here as a diff. Regenerate with BUILD_TOOLS_UPDATE_GOLDEN=1 after checking."""
    target, project = esp_project
    for rel in GOLDEN_FILES:
        golden = GOLDEN / target.name / rel
        text = (project.directory / rel).read_text()
        if os.environ.get("BUILD_TOOLS_UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{target.name}/{rel} differs from {golden}"
