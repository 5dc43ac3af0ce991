"""Builder for `build.system = "cmake"`: the C runtime from runtime_c/CMakeLists.txt.

The same CMake description builds every such target; what differs is read from files of the
target's platform folder, never from names: a `toolchain.cmake` there makes it a cross build
(e.g. qemu-rv32: riscv64-unknown-elf-gcc + picolibc), and a linker-script template
`<platform>.ld.j2` in build_tools/render/templates is rendered from the target's memory budgets
(an overflow fails the link with "firmware does not fit"). Each configuration (engine, backend,
sanitizer) gets its own build directory `build/<target>/runtime-<engine>-<backend>[-asan]/`, so
switching between them never rebuilds the others. A backend with upstream code (TFLM, ESP-NN)
has it built apart, once per target, backend and sanitizer setting, in
`build/<target>/nn-<backend>[-asan]/` (runtime_c/cmake/nn_upstream): it does not depend on the
engine, so every engine configuration links that one library instead of compiling it again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .. import runtime_c, third_party
from ..buildlock import atomic_write, locked_build
from ..errors import ToolchainError
from ..guests import BuildResult, build_guests, method_target_dir, target_dir
from ..paths import build_root
from ..render import TEMPLATES, render_to
from ..targets import Target
from ..toolchains import cmake, riscv_gcc, wabt
from . import FirmwareBuilder, RuntimeImage, register

log = logging.getLogger(__name__)

# The emulated MCU's layout (QEMU virt loads the whole image into DRAM at 0x80000000).
FLASH_BASE = 0x80000000
RAM_BASE = 0x80400000  # 4 MiB above flash inside QEMU's 8 MiB of DRAM
STACK_BYTES = 16 * 1024
MAX_REGION_KIB = 4096

# CMake object library -> footprint component.
LIBRARY_COMPONENTS = {
    "rt_core": "core",
    "rt_proto": "proto",
    "rt_engine": "engine",
    "rt_engine_ext": "engine",
    "rt_nn": "backend",
    "rt_nn_ext": "backend",
    "rt_platform": "platform",
    "rt_models_ext": "models",
    "rt_protofw": "platform",
}


@dataclass(frozen=True)
class Firmware:
    """A linked bare-metal image with what the footprint report needs."""

    elf: Path
    map_file: Path
    objects: dict[str, str]  # object file name -> component


def platform_dir(target: Target) -> Path:
    return runtime_c.runtime_dir() / "platform" / target.runtime.platform


def toolchain_file(target: Target) -> Path | None:
    """The platform's CMake toolchain file: present for cross-compiled (bare-metal) platforms."""
    path = platform_dir(target) / "toolchain.cmake"
    return path if path.is_file() else None


def linker_template(target: Target) -> str | None:
    name = f"{target.runtime.platform}.ld.j2"
    return name if (TEMPLATES / name).is_file() else None


def variant_name(target: Target, sanitize: bool) -> str:
    r = target.runtime
    interp = "" if r.wamr_interp == "fast" else f"-{r.wamr_interp}"
    return f"runtime-{r.engine}{interp}-{r.nn_backend}" + ("-asan" if sanitize else "")


def variant_dir(target: Target, sanitize: bool = False) -> Path:
    return build_root() / target.name / variant_name(target, sanitize)


def executable_name(target: Target) -> str:
    suffix = ".elf" if toolchain_file(target) is not None else ""
    return f"rt_{target.runtime.platform}{suffix}"


def render_linker_script(target: Target, output: Path) -> Path | None:
    template = linker_template(target)
    if template is None:
        return None
    if target.memory.flash_kib > MAX_REGION_KIB or target.memory.ram_kib > MAX_REGION_KIB:
        raise ToolchainError(
            f"{target.source.name}: memory budgets above {MAX_REGION_KIB} KiB do not fit the "
            "emulated layout (QEMU virt, 8 MiB of DRAM)"
        )
    render_to(
        template,
        target,
        output,
        flash_base=FLASH_BASE,
        ram_base=RAM_BASE,
        stack_bytes=STACK_BYTES,
    )
    return output


def nn_upstream_dir(target: Target, sanitize: bool = False) -> Path:
    """Where the backend's upstream code is built apart (shared by the engine configurations)."""
    return target_dir(target) / (f"nn-{target.runtime.nn_backend}" + ("-asan" if sanitize else ""))


def backend_upstream_trees(target: Target) -> dict[str, str]:
    """`upstream_trees` of the backend alone: what its upstream library is compiled from."""
    from ..doctor import BACKEND_SOURCES

    names = BACKEND_SOURCES.get(target.runtime.nn_backend, ())
    return {k: v for k, v in upstream_trees(target).items() if v in names}


def nn_upstream_defines(target: Target, gen_dir: Path, sanitize: bool) -> dict[str, str]:
    """The -D definitions of the backend's upstream library (pure): nothing of the engine."""
    defines = {
        "RT_NN": target.runtime.nn_backend,
        "RT_GEN_DIR": str(gen_dir),
        "RT_SANITIZE": "ON" if sanitize else "OFF",
        "CMAKE_BUILD_TYPE": "Release",
        **{
            var: str(third_party.unpack_dir(third_party.dependency(name)))
            for var, name in backend_upstream_trees(target).items()
        },
    }
    toolchain = toolchain_file(target)
    if toolchain is not None:
        defines["CMAKE_TOOLCHAIN_FILE"] = str(toolchain)
    return defines


def build_nn_upstream(
    target: Target, gen: runtime_c.GeneratedSources, sanitize: bool
) -> Path | None:
    """The backend's upstream code as a static library, built once for all engines (None for a
    backend without upstream code). The backend's generated list (rt_<backend>.cmake: e.g. the
    TFLM kernels the target's models need) is copied beside it, so that every engine
    configuration configures it with the same definitions."""
    if not backend_upstream_trees(target):
        return None
    root = nn_upstream_dir(target, sanitize)
    backend = target.runtime.nn_backend
    listed = gen.directory / f"rt_{backend}.cmake"
    gen_dir = root / "gen"
    gen_dir.mkdir(parents=True, exist_ok=True)
    if listed.is_file():
        data = listed.read_bytes()
        copy = gen_dir / listed.name
        if not copy.is_file() or copy.read_bytes() != data:
            atomic_write(copy, data)
    build_dir = root / "cmake"
    source = runtime_c.runtime_dir() / "cmake" / "nn_upstream"
    cmake.build(source, build_dir, nn_upstream_defines(target, gen_dir, sanitize))
    library = build_dir / "librt_nn_ext.a"
    if not library.is_file():
        raise ToolchainError(
            f"the upstream build of backend {backend} finished but {library} is missing"
        )
    return library


def upstream_trees(target: Target) -> dict[str, str]:
    """CMake variable `<NAME>_ROOT` -> lock entry (build_tools/third_party.toml), for each pinned
    upstream tree the target's engine and backend compile in place (doctor's tables say which)."""
    from ..doctor import BACKEND_SOURCES, ENGINE_SOURCES

    r = target.runtime
    names = [*ENGINE_SOURCES.get(r.engine, ()), *BACKEND_SOURCES.get(r.nn_backend, ())]
    return {re.sub(r"[^A-Za-z0-9]", "_", n).upper() + "_ROOT": n for n in names}


def resolve_upstream(target: Target) -> None:
    """Verifies and unpacks the upstream trees the configuration compiles (once)."""
    for name in upstream_trees(target).values():
        third_party.resolve(name)


def engine_defines(target: Target) -> dict[str, str]:
    """What the engine's and backend's component.cmake read besides the common inputs."""
    defines = {
        var: str(third_party.unpack_dir(third_party.dependency(name)))
        for var, name in upstream_trees(target).items()
    }
    if target.runtime.engine == "wamr":
        defines["RT_WAMR_INTERP"] = target.runtime.wamr_interp
    return defines


def cmake_defines(
    target: Target,
    gen: runtime_c.GeneratedSources | None,
    sanitize: bool,
    linker_script: Path | None,
    app: str = "runtime",
) -> dict[str, str]:
    """The -D definitions of one configuration (pure: tested by equality)."""
    defines = {
        "RT_APP": app,
        "RT_ENGINE": target.runtime.engine,
        "RT_NN": target.runtime.nn_backend,
        "RT_PLATFORM": target.runtime.platform,
        "RT_SANITIZE": "ON" if sanitize else "OFF",
        "CMAKE_BUILD_TYPE": "Release",
        "WASM2C_RUNTIME_DIR": str(wabt.wasm2c_runtime_dir()),
        **engine_defines(target),
    }
    if gen is not None:
        defines["RT_CONFIG_DIR"] = str(gen.config_dir)
        defines["RT_GEN_DIR"] = str(gen.directory)
    toolchain = toolchain_file(target)
    if toolchain is not None:
        defines["CMAKE_TOOLCHAIN_FILE"] = str(toolchain)
    if linker_script is not None:
        defines["RT_LINKER_SCRIPT"] = str(linker_script)
    return defines


def component_sources(
    target: Target, gen: runtime_c.GeneratedSources, linker_script: Path | None = None
) -> dict[str, list[Path]]:
    """`RT_<COMPONENT>_[EXTERNAL_]SOURCES` -> files, read from the component description itself
    (cmake -P runtime_c/cmake/print_sources.cmake), for checks of other build descriptions."""
    resolve_upstream(target)
    defines = cmake_defines(target, gen, False, linker_script)
    keep = ("RT_", "WASM2C_", *upstream_trees(target))
    defines = {k: v for k, v in defines.items() if k.startswith(keep)}
    out: dict[str, list[Path]] = {}
    script = runtime_c.runtime_dir() / "cmake" / "print_sources.cmake"
    for line in cmake.run_script(script, defines):
        name, _, value = line.partition("=")
        out[name] = [Path(v) for v in value.split(";") if v]
    return out


def object_components(build_dir: Path) -> dict[str, str]:
    """Object file name -> component, from CMake's per-library object folders."""
    out: dict[str, str] = {}
    for lib_dir in sorted((build_dir / "CMakeFiles").glob("*.dir")):
        lib = lib_dir.name.removesuffix(".dir")
        for obj in lib_dir.rglob("*.o*"):
            if obj.suffix not in (".o", ".obj"):
                continue
            if lib == "rt_guests_ext":
                guest = obj.name.split(".", 1)[0].removeprefix("w2c_")
                out[obj.name] = f"guest:{guest}"
            else:
                out[obj.name] = LIBRARY_COMPONENTS.get(lib, lib)
    return out


def check_components(target: Target) -> None:
    """Every component folder the target names exists (one line instead of a CMake trace)."""
    r = target.runtime
    for field_name, folder in (
        ("runtime.engine", f"engines/{r.engine}"),
        ("runtime.nn_backend", f"nn/{r.nn_backend}"),
        ("runtime.platform", f"platform/{r.platform}"),
    ):
        if not (runtime_c.runtime_dir() / folder / "component.cmake").is_file():
            raise ToolchainError(
                f"target {target.name}: {field_name} names runtime_c/{folder}, which has no "
                "component.cmake (not buildable with CMake)"
            )


def _cmake_build(target: Target, build_dir: Path, defines: dict[str, str]) -> None:
    try:
        cmake.build(runtime_c.runtime_dir(), build_dir, defines)
    except ToolchainError as e:
        overflows = riscv_gcc.parse_overflow(str(e))
        if overflows:
            region, n = max(overflows, key=lambda o: o[0] == "ram")
            budgets = {"ram": target.memory.ram_kib, "flash": target.memory.flash_kib}
            raise riscv_gcc.FirmwareTooLarge(region, n, budgets.get(region, 0)) from e
        raise


@locked_build(target_dir)  # one build of a target at a time (buildlock)
def build_protocol_firmware(target: Target, root: Path | None = None) -> Firmware:
    """The protocol dispatcher with the protocol's test double of the core (no engine): for
    testing a bare-metal port, the serial adapters and link faults apart from the runtime.
    Built under `root` (default: paths.build_root())."""
    out = target_dir(target, root) / "protofw"
    script = render_linker_script(target, out / "linker.ld")
    build_dir = out / "cmake"
    _cmake_build(target, build_dir, cmake_defines(target, None, False, script, app="protofw"))
    elf = build_dir / executable_name(target).replace(f"rt_{target.runtime.platform}", "rt_protofw")
    return Firmware(elf, build_dir / "rt_protofw.map", object_components(build_dir))


@register
class CMakeBuilder(FirmwareBuilder):
    build_system = "cmake"

    def output_path(self, target: Target, sanitize: bool = False) -> Path:
        return variant_dir(target, sanitize) / "cmake" / executable_name(target)

    @locked_build(method_target_dir)  # one build of a target at a time (buildlock)
    def build(
        self, target: Target, guests: BuildResult | None = None, sanitize: bool = False
    ) -> RuntimeImage:
        check_components(target)
        resolve_upstream(target)
        guests = guests or build_guests(target)
        root = variant_dir(target, sanitize)
        gen = runtime_c.generate_sources(target, guests, root / "gen")
        for name, reason in gen.skipped_models.items():
            log.warning("%s: model %s not built in: %s", target.name, name, reason)
        script = render_linker_script(target, root / "linker.ld")
        build_dir = root / "cmake"
        defines = cmake_defines(target, gen, sanitize, script)
        nn_library = build_nn_upstream(target, gen, sanitize)
        if nn_library is not None:
            defines["RT_NN_EXTERNAL_LIB"] = str(nn_library)
        _cmake_build(target, build_dir, defines)
        binary = self.output_path(target, sanitize)
        if not binary.exists():
            raise ToolchainError(f"the runtime build finished but {binary} is missing")
        map_file = build_dir / f"rt_{target.runtime.platform}.map"
        return RuntimeImage(
            target=target,
            binary=binary,
            build_dir=build_dir,
            sources=gen,
            guests=guests,
            sanitize=sanitize,
            map_file=map_file if map_file.exists() else None,
            objects=object_components(build_dir)
            | ({nn_library.name: LIBRARY_COMPONENTS["rt_nn_ext"]} if nn_library else {}),
        )

    def describe(self, image: RuntimeImage) -> str:
        target = image.target
        r = target.runtime
        variant = " (ASan+UBSan)" if image.sanitize else ""
        lines = [
            f"{target.name}: runtime{variant} {image.binary}",
            f"  engine {r.engine}, NN backend {r.nn_backend}, platform {r.platform}",
            f"  models built in: {', '.join(image.sources.models) or 'none'}",
        ]
        if toolchain_file(target) is not None:
            from ..footprint import image_usage

            use = image_usage(image.binary)
            lines.append(
                f"  flash {use.flash / 1024:.1f} KiB of {target.memory.flash_kib} KiB; "
                f"static RAM {use.static_ram / 1024:.1f} KiB + stack {use.stack / 1024:.0f} KiB, "
                f"heap {use.heap / 1024:.1f} KiB of {target.memory.ram_kib} KiB RAM"
            )
        lines += [f"  model {n} skipped: {why}" for n, why in image.sources.skipped_models.items()]
        return "\n".join(lines)
