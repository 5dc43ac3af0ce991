"""The device-under-test interface: everything the conformance suite and the CLI need from a
runtime, as primitives a C runtime can serve over a byte protocol (docs/protocol.md).

Adapters register themselves by transport (`register_device("local", HostDut)`); callers pick one
with `open_device(target)` from the target's `connection.transport`, never by board name.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge_runtime.errors import DeviceError

from ..targets import Target

if TYPE_CHECKING:
    from edge_runtime.deployment import Deployment
    from edge_runtime.deployment.runner import DeploymentRun, EventSink

log = logging.getLogger(__name__)

STATUSES = ("ok", "trap", "timeout", "exit", "error")


@dataclass(frozen=True)
class DeviceInfo:
    runtime: str  # "python-host" | "c"
    engine: str  # "wasmtime" | "wamr" | "wasm2c"
    nn_backend: str  # default backend
    memory_budget_kib: int  # per instance
    models: tuple[str, ...]  # names load_by_name can find
    max_graphs: int
    max_contexts: int
    can_load_code: bool = True  # False: only modules built into the firmware (wasm2c)
    builtin_modules: tuple[str, ...] = ()  # sha256 of modules in the firmware
    model_backends: dict[str, str] = field(default_factory=dict)  # per-model backend overrides


@dataclass(frozen=True)
class CallOutcome:
    status: str  # one of STATUSES
    value: int | None  # the i32 result when status is ok (None for void exports)
    message: str  # the cause on anything but ok ("timeout: ...", "trap: unreachable", ...)
    elapsed_us: int
    exit_code: int | None = None  # for status "exit"


@dataclass(frozen=True)
class DeviceStats:
    """Memory peaks of a device since boot or the last peak reset (Dut.stats)."""

    heap_high_water: int  # bytes
    stack_high_water: int | None = None  # bytes; None when the device does not measure it
    last_call_instructions: int | None = None  # instructions retired in the last call

    @property
    def ram_high_water(self) -> int:
        """Heap peak plus stack peak where measured (static data not included)."""
        return self.heap_high_water + (self.stack_high_water or 0)


class NotSupported(DeviceError):
    """The device cannot do this at all (e.g. load new code on a wasm2c build)."""


class Dut(ABC):
    """One runtime. Instance ids are device-chosen small integers."""

    # Which of the command line's device options (run/test: `models`, `backend`, `port`, the
    # keys of commands.run.CLI_OPTIONS) this adapter applies. Any other one is refused before
    # the device is opened, so an option never goes silently unused. Data, not code: an adapter
    # that learns an option adds its key here.
    cli_options: frozenset[str] = frozenset()

    def __init__(self, target: Target, options: dict[str, Any] | None = None) -> None:
        self.target = target
        self.options = options or {}

    def __enter__(self) -> Dut:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def info(self) -> DeviceInfo: ...

    @abstractmethod
    def put_model(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def instantiate(self, module_name: str, wasm: bytes) -> int:
        """Loads and instantiates a module; raises DeviceError naming the reason."""

    @abstractmethod
    def call(self, instance: int, export: str, args: list[int]) -> CallOutcome: ...

    @abstractmethod
    def write_memory(self, instance: int, addr: int, data: bytes) -> None: ...

    @abstractmethod
    def read_memory(self, instance: int, addr: int, n: int) -> bytes: ...

    @abstractmethod
    def logs(self, instance: int) -> bytes:
        """Everything the instance wrote to fds 1 and 2 so far."""

    @abstractmethod
    def drop(self, instance: int) -> None: ...

    @property
    def takes_frames(self) -> bool:
        """Whether put_frame works here (the protocol's FRAMES capability)."""
        return False

    def put_frame(self, instance: int, width: int, height: int, fmt: str, pixels: bytes) -> int:
        """Hands packed pixels (fmt: gray8, rgb888, yuv422) to an instance as a new edge_image
        handle, without a write into its linear memory; returns the handle."""
        raise NotSupported(f"{self.target.name}: this device takes no frames")

    def deployment(self, deployment: Deployment, on_event: EventSink) -> DeploymentRun:
        """An executor for the deployment on this device (docs/pipeline.md), not yet started;
        it lives no longer than the open device."""
        raise NotSupported(
            f"target {self.target.name}: this device cannot run deployments",
            hint="run it on the host target",
        )

    def stats(self, *, reset_peaks: bool = False) -> DeviceStats | None:
        """Memory peaks, or None when the device cannot report them. reset_peaks: restart the
        peaks after reading them (so the next reading covers only what ran in between)."""
        return None


DutFactory = Callable[[Target, dict[str, Any]], Dut]
_REGISTRY: dict[str, DutFactory] = {}


def register_device(transport: str, factory: DutFactory) -> None:
    _REGISTRY[transport] = factory


def registered_transports() -> list[str]:
    return sorted(_REGISTRY)


def _factory(target: Target) -> DutFactory:
    from . import load_adapters

    load_adapters()
    factory = _REGISTRY.get(target.connection.transport)
    if factory is None:
        raise DeviceError(
            f"target {target.name}: no device adapter for transport "
            f"{target.connection.transport!r} (available: {', '.join(registered_transports())})"
        )
    return factory


def supported_cli_options(target: Target) -> frozenset[str]:
    """The command-line device options the target's adapter declares (`Dut.cli_options`)."""
    return frozenset(getattr(_factory(target), "cli_options", frozenset()))


def open_device(target: Target, options: dict[str, Any] | None = None) -> Dut:
    """An adapter for the target's `connection.transport` (not yet opened)."""
    return _factory(target)(target, options or {})
