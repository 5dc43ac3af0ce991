"""Builder for `build.system = "platformio"`: ESP32 firmware on ESP-IDF, built by PlatformIO.

`generate` writes a PlatformIO project under build/<target>/firmware/ from the target file:
platformio.ini, sdkconfig.defaults, partitions.csv, src/idf_component.yml and the root and src/
CMakeLists; src/ is the runtime as one ESP-IDF component that includes the runtime's own source
description (runtime_c/cmake/rt_components.cmake) in place (nothing copied). It also writes what
needs no ESP-IDF: rt_config.h and rt_gen.cmake, the partition table binary (esp-idf-defs) and
the data-partition image holding the target's guests and models (build_tools/store_image.py).
docs/esp32.md describes the whole flow. `build` then runs PlatformIO and writes flash.json, the flash
layout `flash` reads. Offsets come from the target's [flash] table only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import runtime_c, store_image, third_party
from ..errors import BuildToolsError
from ..guests import BuildResult, build_guests
from ..paths import build_root
from ..render import render_to
from ..targets import Flash, Partition, Target
from ..toolchains import platformio
from ..toolchains.esptool import FlashPlan
from ..toolchains.esptool import Region as EsptoolRegion
from . import FirmwareBuilder, RuntimeImage, register

log = logging.getLogger(__name__)

FLASH_JSON_VERSION = 1
ROLES = ("bootloader", "partition-table", "app", "data")  # the images of flash.json
# Stack of the task that serves the protocol and runs the interpreter and TFLM's Invoke.
MAIN_TASK_STACK = 16 * 1024
# The task watchdog must outlast the longest guest call the runtime itself allows.
WATCHDOG_MARGIN_S = 5

# esp-tflite-micro 1.4 needs ESP-IDF >= 5.1 (its manifest); PlatformIO's platform bundles 5.5.
IDF_VERSION = ">=5.1"


def component_pins() -> dict[str, str]:
    """The upstream components of the ESP-IDF build, at the revisions of the project's lock
    file (build_tools/third_party.toml): registry versions for esp-tflite-micro and esp-nn, a
    git tag for WAMR (the registry's newest WAMR is older than the pinned one)."""
    wamr = third_party.dependency("wamr")
    return {
        "idf": IDF_VERSION,
        "tflite_micro": third_party.dependency("esp-tflite-micro").revision,
        "esp_nn": third_party.dependency("esp-nn").revision,
        "wamr_git": wamr.upstream + ".git",
        "wamr_ref": wamr.revision,
    }


def project_dir(target: Target) -> Path:
    return build_root() / target.name / "firmware"


def _flash(target: Target) -> Flash:
    if target.flash is None or target.flash.data_partition is None:
        raise BuildToolsError(
            f"target {target.name}: needs a [flash] table with data_partition",
            hint=f"see {target.source}",
        )
    return target.flash


def app_partition(flash: Flash) -> Partition:
    for p in flash.partitions:
        if p.type == "app" and p.offset == flash.app_offset:
            return p
    raise BuildToolsError(f"[flash]: no app partition at app_offset 0x{flash.app_offset:x}")


def data_partition(flash: Flash) -> Partition:
    assert flash.data_partition is not None
    return flash.partition(flash.data_partition)


def _write(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def partitions_csv_text(target: Target) -> str:
    from ..render import render

    return render("esp-idf/partitions.csv.j2", target)


def partition_table_binary(target: Target) -> bytes:
    """The partition table as the bootloader reads it, verified by esp-idf-defs."""
    from esp_idf_defs.partitions import InputError, PartitionTable, ValidationError

    flash = _flash(target)
    try:
        table = PartitionTable.from_csv(
            partitions_csv_text(target), partition_table_offset=flash.partition_table_offset
        )
        table.verify(partition_table_offset=flash.partition_table_offset)
        table.verify_size_fits(target.memory.flash_kib * 1024)
    except (InputError, ValidationError) as e:
        raise BuildToolsError(f"target {target.name}: partition table: {e}") from e
    data: bytes = table.to_binary()
    return data


def store_items(
    target: Target, guests: BuildResult
) -> tuple[list[store_image.StoreItem], dict[str, str]]:
    """The target's guests and models as store items; models missing from the shared data are
    reported (name -> reason), not fatal (same rule as the other C targets)."""
    items = [
        store_image.StoreItem(
            store_image.KIND_MODULE, g.name, (guests.directory / g.path).read_bytes()
        )
        for g in guests.guests
    ]
    found, skipped = runtime_c.resolve_models(target)
    items += [store_image.StoreItem(store_image.KIND_MODEL, n, p.read_bytes()) for n, p in found]
    return items, skipped


@dataclass(frozen=True)
class Project:
    directory: Path
    files: tuple[Path, ...]  # generated text files, relative to directory
    data_image: Path
    partitions_bin: Path
    skipped_models: dict[str, str]
    sources: runtime_c.GeneratedSources


def generate(target: Target, guests: BuildResult | None = None) -> Project:
    """Everything up to (not including) the PlatformIO build; incremental (rewrites on change)."""
    flash = _flash(target)
    guests = guests or build_guests(target)
    d = project_dir(target)
    # rt_config.h and rt_gen.cmake for runtime_c/cmake/rt_components.cmake (the models go to
    # the data partition, not into the app: the generated model table is not compiled).
    gen = runtime_c.generate_sources(target, guests, d / "gen")
    extra: dict[str, Any] = {
        "platform_spec": platformio.PLATFORM_SPEC,
        "app_partition": app_partition(flash),
        "main_task_stack": MAIN_TASK_STACK,
        "watchdog_s": math.ceil(target.limits.call_timeout_ms / 1000) + WATCHDOG_MARGIN_S,
        "components": component_pins(),
        "rt_components_cmake": (
            runtime_c.runtime_dir() / "cmake" / "rt_components.cmake"
        ).as_posix(),
        "rt_idf_project_cmake": (
            runtime_c.runtime_dir() / "cmake" / "rt_idf_project.cmake"
        ).as_posix(),
        "config_dir": gen.config_dir.as_posix(),
        "gen_dir": gen.directory.as_posix(),
    }
    files = {
        "platformio.ini": "esp-idf/platformio.ini.j2",
        "sdkconfig.defaults": "esp-idf/sdkconfig.defaults.j2",
        "partitions.csv": "esp-idf/partitions.csv.j2",
        "CMakeLists.txt": "esp-idf/project-CMakeLists.txt.j2",
        "src/CMakeLists.txt": "esp-idf/src-CMakeLists.txt.j2",
        "src/idf_component.yml": "esp-idf/idf_component.yml.j2",
    }
    for rel, template in files.items():
        render_to(template, target, d / rel, **extra)
    partitions_bin = d / "images" / "partitions.bin"
    _write(partitions_bin, partition_table_binary(target))
    items, skipped = store_items(target, guests)
    for name, reason in skipped.items():
        log.warning("model %s not in the data partition: %s", name, reason)
    image = store_image.build_image(items)
    data = data_partition(flash)
    store_image.check_fits(image, data.name, data.size)
    data_image = d / "images" / f"{data.name}.bin"
    _write(data_image, image)
    return Project(d, tuple(Path(r) for r in files), data_image, partitions_bin, skipped, gen)


@dataclass(frozen=True)
class Region:
    """One image of flash.json: what `flash` writes where."""

    role: str  # bootloader | partition-table | app | data
    offset: int
    file: str
    size: int
    sha256: str


def _region(role: str, offset: int, path: Path) -> Region:
    data = path.read_bytes()
    return Region(role, offset, str(path), len(data), hashlib.sha256(data).hexdigest())


def flash_layout(target: Target, images: dict[str, Path]) -> dict[str, Any]:
    """flash.json: what `flash` writes where. `images` maps bootloader, partition-table, app and
    data to files; offsets come from the target's [flash] table."""
    flash = _flash(target)
    offsets = {
        "bootloader": flash.bootloader_offset,
        "partition-table": flash.partition_table_offset,
        "app": flash.app_offset,
        "data": data_partition(flash).offset,
    }
    regions = sorted(
        (_region(role, offset, images[role]) for role, offset in offsets.items()),
        key=lambda r: r.offset,
    )
    app = app_partition(flash)
    app_size = next(r.size for r in regions if r.role == "app")
    if app_size > app.size:
        raise BuildToolsError(
            f"target {target.name}: app image is {app_size} bytes, partition {app.name!r} "
            f"holds {app.size}"
        )
    for a, b in itertools.pairwise(regions):
        if a.offset + a.size > b.offset:
            raise BuildToolsError(
                f"target {target.name}: {a.role} image ({a.size} bytes at 0x{a.offset:x}) "
                f"overlaps {b.role} at 0x{b.offset:x}"
            )
    return {
        "version": FLASH_JSON_VERSION,
        "target": target.name,
        "chip": flash.chip,
        "flash_mode": flash.flash_mode,
        "flash_size": flash.flash_size,
        "regions": [asdict(r) for r in regions],
    }


def flash_json_path(target: Target) -> Path:
    return project_dir(target) / "flash.json"


def load_flash_plan(target: Target, path: Path | None = None) -> FlashPlan:
    """flash.json as esptool's plan; refuses a missing layout or a file changed since."""
    path = path or flash_json_path(target)
    if not path.is_file():
        raise BuildToolsError(
            f"target {target.name}: no flash layout at {path}",
            hint=f"run: python -m build_tools build {target.name} (needs PlatformIO)",
        )
    try:
        layout = json.loads(path.read_text())
        regions = [Region(**r) for r in layout["regions"]]
        chip, mode, size = layout["chip"], layout["flash_mode"], layout["flash_size"]
    except (ValueError, KeyError, TypeError) as e:
        raise BuildToolsError(f"{path}: not a flash layout of this tool ({e})") from e
    if chip != _flash(target).chip:
        raise BuildToolsError(
            f"{path}: chip {chip!r}, but target {target.name} is {_flash(target).chip!r}"
        )
    for r in regions:
        file = Path(r.file)
        if not file.is_file():
            raise BuildToolsError(
                f"{path}: {r.role} image {file} is missing",
                hint=f"run: python -m build_tools build {target.name}",
            )
        if hashlib.sha256(file.read_bytes()).hexdigest() != r.sha256:
            raise BuildToolsError(
                f"{path}: {r.role} image {file} changed since the build",
                hint=f"run: python -m build_tools build {target.name}",
            )
    return FlashPlan(
        chip, mode, size, tuple(EsptoolRegion(r.offset, Path(r.file), r.role) for r in regions)
    )


def write_flash_json(target: Target, images: dict[str, Path]) -> Path:
    path = flash_json_path(target)
    path.write_text(json.dumps(flash_layout(target, images), indent=2) + "\n")
    return path


@register
class PlatformIOBuilder(FirmwareBuilder):
    build_system = "platformio"

    def output_path(self, target: Target, sanitize: bool = False) -> Path:
        assert target.build.env is not None  # required with platformio (targets.py)
        return platformio.outputs(project_dir(target), target.build.env).elf

    def generate(self, target: Target, guests: BuildResult | None = None) -> str:
        return describe_project(generate(target, guests))

    def build(
        self, target: Target, guests: BuildResult | None = None, sanitize: bool = False
    ) -> RuntimeImage:
        if sanitize:
            raise BuildToolsError(f"target {target.name}: --sanitize is for native CMake builds")
        project = generate(target, guests)
        assert target.build.env is not None
        out = platformio.build(project.directory, target.build.env)
        images = {
            "bootloader": out.bootloader,
            # PlatformIO's partitions.bin comes from the same partitions.csv; ours is verified.
            "partition-table": project.partitions_bin,
            "app": out.app,
            "data": project.data_image,
        }
        write_flash_json(target, images)
        return RuntimeImage(
            target=target,
            binary=out.elf,
            build_dir=project.directory,
            sources=project.sources,
            guests=guests or build_guests(target),
        )

    def describe(self, image: RuntimeImage) -> str:
        target = image.target
        return "\n".join(
            [
                describe_project(generate(target, image.guests)),
                f"  app {image.binary}",
                f"  flash layout {flash_json_path(target)}",
            ]
        )


def describe_project(p: Project) -> str:
    lines = [f"{p.directory.parent.name}: PlatformIO project in {p.directory}"]
    lines.append(f"  data partition image {p.data_image} ({p.data_image.stat().st_size} bytes)")
    lines += [f"  model {name} skipped: {reason}" for name, reason in p.skipped_models.items()]
    return "\n".join(lines)
