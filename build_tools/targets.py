"""Target boards as data: load and validate `targets/*.toml`.

Code elsewhere branches on these fields, never on a board's name. Every validation error names
the file, the field and the reason.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import TargetError
from .paths import repo_root

log = logging.getLogger(__name__)

KINDS = ("mcu", "linux")
ARCHES = ("xtensa", "riscv32", "aarch64", "x86_64", "native")
RUNTIMES = ("c", "python-host")
ENGINES = {"c": ("wamr", "wasm2c"), "python-host": ("wasmtime",)}
NN_BACKENDS = {
    "c": ("tflm", "builtin"),
    "python-host": ("litert", "tflite-runtime", "tflm", "builtin"),
}
PLATFORMS = {"c": ("esp-idf", "posix", "qemu-rv32"), "python-host": ("linux",)}
BUILD_SYSTEMS = ("platformio", "cmake", "none")
TRANSPORTS = ("serial", "qemu", "ssh", "local", "process")
PARTITION_TYPES = ("app", "data")

# Ranges: what the runtimes can represent (docs/abi.md section 5; rt_config.h holds 32-bit values).
MAX_KIB = 1 << 32  # 4 TiB: beyond any board
WASM32_KIB = 1 << 22  # 4 GiB: the whole wasm32 address space
C_BYTES_MAX = (1 << 32) - 1  # byte counts the C runtime's config holds (u32)
MAX_CALL_TIMEOUT_MS = 86_400_000  # one day
MAX_TABLE = 256  # graphs, contexts, instances
BAUD_RANGE = (300, 5_000_000)
# Names that become C identifiers (Z_<guest>_...) and file names.
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# The wasi-nn load_by_name rule (docs/abi.md): no '/', no leading '.', at most 64 bytes.
MODEL_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Memory:
    ram_kib: int
    psram_kib: int
    flash_kib: int


WAMR_INTERPS = ("fast", "classic")


@dataclass(frozen=True)
class Runtime:
    kind: str
    engine: str
    nn_backend: str
    platform: str
    # WAMR's interpreter (engine wamr): fast, or classic where RAM is tight (runtime_c/README.md)
    wamr_interp: str = "fast"
    # nn_backend was chosen on the command line (--backend): a runtime with several backends
    # then uses it alone, without falling back to another (docs/abi.md).
    nn_backend_chosen: bool = False


@dataclass(frozen=True)
class Build:
    system: str
    env: str | None = None  # platformio environment
    board: str | None = None  # platformio board id
    framework: str | None = None
    # Extra sdkconfig lines for this board (Kconfig symbol -> value as written in sdkconfig,
    # e.g. {"CONFIG_SPIRAM_MODE_OCT": "y"}); rendered into sdkconfig.defaults.
    sdkconfig: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Connection:
    transport: str
    baud: int | None = None
    host: str | None = None  # ssh default host (user@address), may be overridden on the CLI
    install_dir: str | None = None


@dataclass(frozen=True)
class Limits:
    instance_memory_kib: int
    call_timeout_ms: int
    max_graphs: int
    max_contexts: int
    max_instances: int
    # Engine stack per instance (WAMR: interpreter frames and operands; its exhaustion is a
    # trap) and the heap an engine may place inside linear memory (0: the guest's own malloc).
    engine_stack_kib: int = 16
    engine_heap_kib: int = 0
    # Native stack of each deployment instance's task (the C runtime's pipeline executor runs
    # every instance's main on its own stack, docs/pipeline.md section 9).
    task_stack_kib: int = 64


@dataclass(frozen=True)
class GuestProfile:
    stack_kib: int
    initial_memory_kib: int
    max_memory_kib: int
    modules: tuple[str, ...]
    models: tuple[str, ...]
    # EVP modules (guests/src/evp/) a wasm2c firmware compiles in, so that its pipeline
    # executor can run them (docs/pipeline.md section 9); engines that load modules ignore it.
    evp_modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Partition:
    name: str
    type: str
    subtype: str
    offset: int
    size: int


@dataclass(frozen=True)
class Flash:
    chip: str  # esptool chip name
    bootloader_offset: int
    partition_table_offset: int
    app_offset: int
    flash_mode: str
    flash_size: str
    partitions: tuple[Partition, ...]
    data_partition: str | None = None  # name of the partition holding guests and models

    def partition(self, name: str) -> Partition:
        for p in self.partitions:
            if p.name == name:
                return p
        raise KeyError(name)


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    kind: str
    arch: str
    cpu: str
    memory: Memory
    runtime: Runtime
    build: Build
    connection: Connection
    limits: Limits
    guests: GuestProfile
    flash: Flash | None = None
    source: Path = field(default=Path(), compare=False)


def targets_dir() -> Path:
    return repo_root() / "targets"


class _Fields:
    """Reads typed fields from one TOML table and reports errors with file + dotted field."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.seen: set[str] = set()

    def fail(self, key: str, reason: str) -> TargetError:
        return TargetError(
            f"{self.path.name}: field '{self.prefix}{key}': {reason}",
            hint=f"fix {self.path}",
        )

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if required:
                raise self.fail(key, "missing")
            return None
        return self.table[key]

    def text(self, key: str, choices: tuple[str, ...] | None = None, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def integer(
        self, key: str, minimum: int = 0, required: bool = True, maximum: int | None = None
    ) -> Any:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {value!r}")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(key, f"must be <= {maximum}, got {value}")
        return value

    def str_list(
        self, key: str, pattern: re.Pattern[str] | None = None, required: bool = True
    ) -> tuple[str, ...]:
        value = self._get(key, required)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"expected a list of strings, got {value!r}")
        for v in value:
            if pattern is not None and not pattern.fullmatch(v):
                raise self.fail(key, f"{v!r} is not a valid name (allowed: {pattern.pattern})")
            if value.count(v) > 1:
                raise self.fail(key, f"{v!r} is listed twice")
        return tuple(value)

    def table_(self, key: str, required: bool = True) -> _Fields | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {type(value).__name__}")
        return _Fields(self.path, value, f"{self.prefix}{key}.")

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "unknown field")


def _table(f: _Fields, key: str) -> _Fields:
    t = f.table_(key)
    assert t is not None
    return t


def _parse_flash(f: _Fields) -> Flash:
    parts = f._get("partitions", True)
    if not isinstance(parts, list) or not parts:
        raise f.fail("partitions", "expected a non-empty array of tables")
    partitions = []
    for i, raw in enumerate(parts):
        if not isinstance(raw, dict):
            raise f.fail(f"partitions[{i}]", "expected a table")
        pf = _Fields(f.path, raw, f"{f.prefix}partitions[{i}].")
        partitions.append(
            Partition(
                name=pf.text("name"),
                type=pf.text("type", PARTITION_TYPES),
                subtype=pf.text("subtype"),
                offset=pf.integer("offset"),
                size=pf.integer("size", minimum=4096),
            )
        )
        pf.done()
    flash = Flash(
        chip=f.text("chip"),
        bootloader_offset=f.integer("bootloader_offset"),
        partition_table_offset=f.integer("partition_table_offset"),
        app_offset=f.integer("app_offset"),
        flash_mode=f.text("flash_mode", ("qio", "qout", "dio", "dout")),
        flash_size=f.text("flash_size", ("2MB", "4MB", "8MB", "16MB")),
        partitions=tuple(partitions),
        data_partition=f.text("data_partition", required=False),
    )
    f.done()
    if flash.data_partition is not None:
        data = [p for p in flash.partitions if p.name == flash.data_partition]
        if not data or data[0].type != "data":
            raise f.fail(
                "data_partition", f"{flash.data_partition!r} is not a data partition of the table"
            )
    end = 0
    for i, p in enumerate(sorted(flash.partitions, key=lambda p: p.offset)):
        if p.offset % 4096:
            raise f.fail(
                f"partitions[{i}].offset", f"{p.name}: 0x{p.offset:x} is not 4 KiB aligned"
            )
        if p.offset < end:
            raise f.fail(f"partitions[{i}].offset", f"{p.name} overlaps the previous partition")
        end = p.offset + p.size
    return flash


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def parse_target(path: Path, data: dict[str, Any]) -> Target:
    f = _Fields(path, data)
    name = f.text("name")
    if name != path.stem:
        raise f.fail("name", f"{name!r} does not match the file name {path.stem!r}")
    kind = f.text("kind", KINDS)
    m = _table(f, "memory")
    memory = Memory(
        m.integer("ram_kib", 1, maximum=MAX_KIB),
        m.integer("psram_kib", maximum=MAX_KIB),
        m.integer("flash_kib", maximum=MAX_KIB),
    )
    m.done()
    r = _table(f, "runtime")
    rkind = r.text("kind", RUNTIMES)
    runtime = Runtime(
        kind=rkind,
        engine=r.text("engine", ENGINES[rkind]),
        nn_backend=r.text("nn_backend", NN_BACKENDS[rkind]),
        platform=r.text("platform", PLATFORMS[rkind]),
        wamr_interp=r.text("wamr_interp", WAMR_INTERPS, required=False) or "fast",
    )
    r.done()
    if runtime.kind == "c":  # rt_config.h holds these as 32-bit byte counts
        for key, kib in (
            ("ram_kib", memory.ram_kib),
            ("psram_kib", memory.psram_kib),
            ("flash_kib", memory.flash_kib),
        ):
            if kib * 1024 > C_BYTES_MAX:
                raise m.fail(key, f"{kib} KiB does not fit the C runtime's 32-bit byte counts")
    b = _table(f, "build")
    build = Build(
        system=b.text("system", BUILD_SYSTEMS),
        env=b.text("env", required=False),
        board=b.text("board", required=False),
        framework=b.text("framework", required=False),
    )
    sdk = b.table_("sdkconfig", required=False)
    if sdk is not None:
        for key, value in sdk.table.items():
            if not re.fullmatch(r"CONFIG_[A-Z0-9_]+", key):
                raise sdk.fail(key, "expected a Kconfig symbol CONFIG_[A-Z0-9_]+")
            if not isinstance(value, str) or "\n" in value:
                raise sdk.fail(key, f"expected a one-line string value, got {value!r}")
        build = Build(
            build.system, build.env, build.board, build.framework, tuple(sdk.table.items())
        )
    if build.system == "platformio" and (build.env is None or build.board is None):
        raise b.fail("env" if build.env is None else "board", "required when system is platformio")
    b.done()
    c = _table(f, "connection")
    conn = Connection(
        transport=c.text("transport", TRANSPORTS),
        baud=c.integer("baud", BAUD_RANGE[0], required=False, maximum=BAUD_RANGE[1]),
        host=c.text("host", required=False),
        install_dir=c.text("install_dir", required=False),
    )
    if conn.transport == "serial" and conn.baud is None:
        raise c.fail("baud", "required when transport is serial")
    c.done()
    lim = _table(f, "limits")
    limits = Limits(
        instance_memory_kib=lim.integer("instance_memory_kib", 64, maximum=WASM32_KIB),
        call_timeout_ms=lim.integer("call_timeout_ms", 1, maximum=MAX_CALL_TIMEOUT_MS),
        max_graphs=lim.integer("max_graphs", 1, maximum=MAX_TABLE),
        max_contexts=lim.integer("max_contexts", 1, maximum=MAX_TABLE),
        max_instances=lim.integer("max_instances", 1, maximum=MAX_TABLE),
        engine_stack_kib=_or(
            lim.integer("engine_stack_kib", 4, required=False, maximum=WASM32_KIB), 16
        ),
        engine_heap_kib=_or(
            lim.integer("engine_heap_kib", 0, required=False, maximum=WASM32_KIB), 0
        ),
        task_stack_kib=_or(
            lim.integer("task_stack_kib", 4, required=False, maximum=WASM32_KIB), 64
        ),
    )
    lim.done()
    g = _table(f, "guests")
    guests = GuestProfile(
        stack_kib=g.integer("stack_kib", 1, maximum=WASM32_KIB),
        initial_memory_kib=g.integer("initial_memory_kib", 64, maximum=WASM32_KIB),
        max_memory_kib=g.integer("max_memory_kib", 64, maximum=WASM32_KIB),
        modules=g.str_list("modules", MODULE_NAME),
        models=g.str_list("models", MODEL_NAME),
        evp_modules=g.str_list("evp_modules", MODULE_NAME, required=False),
    )
    for key, value in (
        ("initial_memory_kib", guests.initial_memory_kib),
        ("max_memory_kib", guests.max_memory_kib),
    ):
        if value % 64:
            raise g.fail(key, f"{value} is not a multiple of the 64 KiB wasm page")
    if guests.max_memory_kib < guests.initial_memory_kib:
        raise g.fail("max_memory_kib", "is smaller than initial_memory_kib")
    if guests.stack_kib >= guests.initial_memory_kib:
        raise g.fail("stack_kib", "does not leave room in initial_memory_kib")
    g.done()
    flash = None
    ft = f.table_("flash", required=False)
    if ft is not None:
        flash = _parse_flash(ft)
        total = max(p.offset + p.size for p in flash.partitions)
        if total > memory.flash_kib * 1024:
            raise ft.fail(
                "partitions",
                f"end at 0x{total:x}, beyond memory.flash_kib ({memory.flash_kib} KiB)",
            )
    if kind == "mcu" and limits.instance_memory_kib > memory.ram_kib:
        raise lim.fail(
            "instance_memory_kib",
            f"{limits.instance_memory_kib} KiB exceeds memory.ram_kib ({memory.ram_kib} KiB)",
        )
    target = Target(
        name=name,
        description=f.text("description"),
        kind=kind,
        arch=f.text("arch", ARCHES),
        cpu=f.text("cpu"),
        memory=memory,
        runtime=runtime,
        build=build,
        connection=conn,
        limits=limits,
        guests=guests,
        flash=flash,
        source=path,
    )
    f.done()
    return target


def load_target_file(path: Path) -> Target:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise TargetError(f"{path.name}: no such target file", hint=f"expected {path}") from e
    except UnicodeDecodeError as e:
        raise TargetError(
            f"{path.name}: not UTF-8: byte 0x{e.object[e.start]:02x} at offset {e.start}",
            hint=f"fix {path}",
        ) from e
    except OSError as e:
        raise TargetError(f"{path.name}: cannot read: {e.strerror}", hint=f"fix {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise TargetError(f"{path.name}: not valid TOML: {e}") from e
    return parse_target(path, data)


def target_files(directory: Path | None = None) -> list[Path]:
    directory = directory or targets_dir()
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise TargetError(f"no target files in {directory}")
    return files


def load_targets(directory: Path | None = None) -> dict[str, Target]:
    return {t.name: t for t in (load_target_file(p) for p in target_files(directory))}


def load_targets_each(directory: Path | None = None) -> tuple[dict[str, Target], list[TargetError]]:
    """Every valid target, and the errors of the invalid ones (one bad file hides no other)."""
    targets: dict[str, Target] = {}
    errors: list[TargetError] = []
    for path in target_files(directory):
        try:
            t = load_target_file(path)
        except TargetError as e:
            errors.append(e)
        else:
            targets[t.name] = t
    return targets, errors


def load_target(name: str, directory: Path | None = None) -> Target:
    directory = directory or targets_dir()
    path = directory / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.toml")))
        raise TargetError(f"unknown target {name!r}", hint=f"known targets: {known}")
    return load_target_file(path)


def with_runtime(
    target: Target, engine: str | None = None, nn_backend: str | None = None
) -> Target:
    """The target with another engine and/or NN backend (the command-line overrides), checked
    against what its runtime kind offers; the target file keeps the default."""
    runtime = target.runtime
    for option, value, offered in (
        ("--engine", engine, ENGINES[runtime.kind]),
        ("--backend", nn_backend, NN_BACKENDS[runtime.kind]),
    ):
        if value is not None and value not in offered:
            raise TargetError(
                f"{option} {value}: target {target.name} (runtime {runtime.kind}) offers "
                + ", ".join(offered)
            )
    return replace(
        target,
        runtime=replace(
            runtime,
            engine=engine or runtime.engine,
            nn_backend=nn_backend or runtime.nn_backend,
            nn_backend_chosen=runtime.nn_backend_chosen or nn_backend is not None,
        ),
    )
