"""The `process` transport: the C micro-runtime as a native process (targets with platform
"posix"), spoken to over its stdin/stdout with the device protocol (docs/protocol.md).

Options: `binary` (Path, use this runtime executable), `sanitize` (bool, the ASan+UBSan build;
default from the BUILD_TOOLS_SANITIZE environment variable),
`build` (bool, default True: bring the runtime up to date first, incrementally),
`stderr_log` (Path, where the runtime's debug log goes).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_runtime.errors import DeviceError
from edge_runtime.protocol.client import DeviceClient, DeviceRequestError
from edge_runtime.protocol.messages import FRAME_FORMATS, MAX_ARGS, HelloInfo, Kind
from edge_runtime.protocol.messages import CallOutcome as WireOutcome
from edge_runtime.protocol.streams import ProcessStream

from ..targets import Target
from .base import CallOutcome, DeviceInfo, DeviceStats, Dut, NotSupported, register_device

if TYPE_CHECKING:
    from edge_runtime.deployment import Deployment
    from edge_runtime.deployment.runner import DeploymentRun, EventSink

log = logging.getLogger(__name__)

SANITIZE_ENV = "BUILD_TOOLS_SANITIZE"  # "1": run the ASan+UBSan build of the runtime

_STATUS = {
    WireOutcome.RETURNED: "ok",
    WireOutcome.TRAPPED: "trap",
    WireOutcome.EXITED: "exit",
    WireOutcome.TIMEOUT: "timeout",
}


def describe_exit(code: int) -> str:
    """A process exit status in words: `exit code 1`, `killed by signal 6 (SIGABRT)`."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "?"
        return f"killed by signal {-code} ({name})"
    return f"exit code {code}"


def last_lines(text: str, n: int = 1) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def device_name(name: str) -> str:
    """A module name as the protocol takes it: 1-64 of [A-Za-z0-9_.-] (a file stem may not)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "module"


def sanitize_requested(options: dict[str, Any]) -> bool:
    """The `sanitize` option, else the BUILD_TOOLS_SANITIZE environment variable."""
    if "sanitize" in options:
        return bool(options["sanitize"])
    return os.environ.get(SANITIZE_ENV, "") not in ("", "0")


def runtime_binary(target: Target, options: dict[str, Any]) -> Path:
    """The executable to launch: given, or built (incrementally: a no-op when up to date)."""
    from .. import firmware  # imported late: building pulls in the toolchain adapters

    given = options.get("binary") or options.get("firmware")
    if given is not None:
        return Path(given)
    sanitize = sanitize_requested(options)
    builder = firmware.require_builder(target)
    if options.get("build", True):  # incremental: a no-op when nothing changed
        return builder.build(target, sanitize=sanitize).binary
    binary = builder.output_path(target, sanitize)
    if not binary.exists():
        raise DeviceError(
            f"target {target.name}: no runtime at {binary}",
            hint=f"run: python -m build_tools build {target.name}"
            + (" --sanitize" if sanitize else ""),
        )
    return binary


class PosixDut(Dut):
    """One runtime process per open(); close() ends it (stdin closed, then waited for)."""

    # `argv` / `env`: the WASI arguments and environment of every instance (ARGS message).
    cli_options: frozenset[str] = frozenset({"argv", "env"})

    def __init__(self, target: Target, options: dict[str, Any] | None = None) -> None:
        super().__init__(target, options)
        self._stream: ProcessStream | None = None
        self._client: DeviceClient | None = None
        self._hello: HelloInfo | None = None
        self._modules: dict[str, str] = {}  # sha256 -> name, built into the firmware
        self._models: list[str] = []
        self._logs: dict[int, bytearray] = {}  # the device drains; the interface accumulates
        self.exit_code: int | None = None  # of the last process, after close()

    @property
    def client(self) -> DeviceClient:
        if self._client is None:
            raise DeviceError(f"device {self.target.name} is not open")
        return self._client

    @property
    def pid(self) -> int | None:
        return self._stream.pid if self._stream is not None else None

    def open(self) -> None:
        if self._stream is not None:
            return
        binary = runtime_binary(self.target, self.options)
        stderr_log = self.options.get("stderr_log")
        self._stream = ProcessStream(
            [str(binary)], stderr_log=Path(stderr_log) if stderr_log else None
        )
        self._client = DeviceClient(self._stream, self.target.name)
        self._client.crash_probe = self._crash_probe
        try:
            self._hello = self._client.hello()
            self._refresh_items()
            self.put_models_option()
        except Exception:
            self.close()
            raise
        log.info(
            "%s: pid %d, %s %s, %d modules, %d models",
            self.target.name,
            self._stream.pid,
            self._hello.runtime_name,
            self._hello.engine,
            len(self._modules),
            len(self._models),
        )

    def _refresh_items(self) -> None:
        self._modules = {}
        self._models = []
        for item in self.client.list():
            if item.kind is Kind.MODULE:
                self._modules[item.sha256] = item.name
            else:
                self._models.append(item.name)

    def close(self) -> None:
        stream, self._stream, self._client = self._stream, None, None
        if stream is not None:
            stream.close()
            self.exit_code = stream.poll()
            if stream.poll() not in (0, None):
                log.warning(
                    "%s: runtime exited with %s; stderr:\n%s",
                    self.target.name,
                    stream.poll(),
                    stream.stderr_text()[-2000:],
                )

    def stderr_text(self) -> str:
        return self._stream.stderr_text() if self._stream is not None else ""

    def _crash_probe(self, client: DeviceClient) -> str | None:
        """After a link failure: how the runtime process ended, with its last stderr line."""
        stream = self._stream
        if stream is None:
            return None
        code = stream.wait_exit(1.0)
        if code is None:
            return None  # still running: a link problem, not a crash
        line = last_lines(stream.stderr_text())
        how = describe_exit(code)
        return f"{line} ({how})" if line else how

    def info(self) -> DeviceInfo:
        hello = self._hello
        if hello is None:
            raise DeviceError(f"device {self.target.name} is not open")
        lim = self.target.limits
        return DeviceInfo(
            runtime=self.target.runtime.kind,
            engine=hello.engine,
            nn_backend=hello.nn_backend,
            memory_budget_kib=lim.instance_memory_kib,
            models=tuple(self._models),
            max_graphs=lim.max_graphs,
            max_contexts=lim.max_contexts,
            can_load_code=hello.can_load_modules,
            builtin_modules=tuple(self._modules),
        )

    def _wrap(self, what: str, e: DeviceRequestError) -> DeviceError:
        return DeviceError(f"{self.target.name}: {what}: {e.device_message or e}")

    def put_models_option(self) -> None:
        """Uploads the models of the `models` option ((name, path) pairs, from `--model`)."""
        for name, path in self.options.get("models", ()):
            try:
                data = Path(path).read_bytes()
            except OSError as e:
                raise DeviceError(f"--model {name}={path}: cannot read: {e.strerror}") from e
            self.put_model(name, data)

    def put_model(self, name: str, data: bytes) -> None:
        try:
            self.client.put(Kind.MODEL, name, data)
        except DeviceRequestError as e:
            raise self._wrap(f"put model {name}", e) from e
        if name not in self._models:
            self._models.append(name)

    def ensure_module(
        self, module_name: str, wasm: bytes, listed_in: str = "guests.modules"
    ) -> str:
        """Makes the module available on the device: uploaded, or found built into the
        firmware (same sha256). Returns its sha256 hex; raises NotSupported naming the module
        and its sha256 when the device holds it not and cannot load code (`listed_in`: the
        target file's list that compiles such modules in)."""
        module_name = device_name(module_name)
        sha = hashlib.sha256(wasm).hexdigest()
        hello = self._hello
        if hello is not None and hello.can_load_modules:
            # Always offered: the device answers PRESENT when it holds these bytes, and may have
            # unloaded modules nobody used to make room since LIST was read.
            try:
                self.client.put(Kind.MODULE, module_name, wasm)
            except DeviceRequestError as e:
                raise self._wrap(f"upload {module_name}", e) from e
            self._modules[sha] = module_name
        elif sha not in self._modules:
            raise NotSupported(
                f"{self.target.name}: module {module_name} (sha256 {sha}) is not built "
                f"into this {hello.engine if hello else 'wasm2c'} runtime, which cannot load "
                "code at run time",
                hint=f"run it with --engine wamr (loads modules at run time), or add it to "
                f"{listed_in} of {self.target.source.name} and rebuild",
            )
        return sha

    def instantiate(self, module_name: str, wasm: bytes) -> int:
        sha = self.ensure_module(module_name, wasm)
        try:
            iid = self.client.instantiate(sha)
        except DeviceRequestError as e:
            raise self._wrap(f"instantiate {device_name(module_name)}", e) from e
        self._set_args(iid, module_name)
        return iid

    def _set_args(self, iid: int, module_name: str) -> None:
        """The `argv` / `env` options, as the Python host gives them (argv[0] the module name
        when `argv` is given), sent with ARGS before the instance's first call."""
        argv_opt = self.options.get("argv")
        env_opt = self.options.get("env", ())
        if argv_opt is None and not env_opt:
            return
        hello = self._hello
        if hello is None or not hello.takes_args:
            raise NotSupported(
                f"{self.target.name}: this runtime takes no WASI arguments or environment "
                "(no ARGS capability)",
                hint="rebuild the runtime",
            )
        argv = [] if argv_opt is None else [module_name, *argv_opt]
        environ = [f"{k}={v}" for k, v in env_opt]
        try:
            self.client.set_args(iid, argv, environ)
        except ValueError as e:
            raise DeviceError(f"{self.target.name}: arguments: {e}") from e
        except DeviceRequestError as e:
            raise self._wrap("arguments", e) from e

    def deployment(self, deployment: Deployment, on_event: EventSink) -> DeploymentRun:
        from .pipeline_driver import DevicePipeline

        return DevicePipeline(self, deployment, on_event)

    def call(self, instance: int, export: str, args: list[int]) -> CallOutcome:
        if len(args) > MAX_ARGS:
            raise DeviceError(
                f"{self.target.name}: {export}: {len(args)} arguments; "
                f"the device protocol carries at most {MAX_ARGS}"
            )
        # The device ends the call at its own limit; allow that plus the link's latency.
        timeout = self.target.limits.call_timeout_ms / 1000.0 + 5.0
        try:
            r = self.client.call(instance, export, args, timeout=timeout)
        except DeviceRequestError as e:
            return CallOutcome("error", None, e.device_message or str(e), 0)
        status = _STATUS[r.outcome]
        message = r.message
        if status == "timeout" and not message.startswith("timeout"):
            message = f"timeout: {message}"
        return CallOutcome(
            status,
            r.result if status == "ok" else None,
            message,
            r.elapsed_us,
            r.value if status == "exit" else None,
        )

    def write_memory(self, instance: int, addr: int, data: bytes) -> None:
        try:
            self.client.mem_write(instance, addr, data)
        except DeviceRequestError as e:
            raise self._wrap("write_memory", e) from e

    def read_memory(self, instance: int, addr: int, n: int) -> bytes:
        try:
            return self.client.mem_read(instance, addr, n)
        except DeviceRequestError as e:
            raise self._wrap("read_memory", e) from e

    def logs(self, instance: int) -> bytes:
        try:
            data = self.client.logs(instance)
        except DeviceRequestError as e:
            raise self._wrap("logs", e) from e
        buf = self._logs.setdefault(instance, bytearray())
        buf += data
        return bytes(buf)

    @property
    def takes_frames(self) -> bool:
        return self._hello is not None and self._hello.takes_frames

    def put_frame(self, instance: int, width: int, height: int, fmt: str, pixels: bytes) -> int:
        if not self.takes_frames:
            return super().put_frame(instance, width, height, fmt, pixels)
        if fmt not in FRAME_FORMATS:
            raise DeviceError(f"frame format {fmt!r}: one of {', '.join(FRAME_FORMATS)}")
        try:
            return self.client.put_frame(instance, width, height, FRAME_FORMATS[fmt], pixels)
        except ValueError as e:
            raise DeviceError(f"{self.target.name}: frame: {e}") from e
        except DeviceRequestError as e:
            raise self._wrap("frame", e) from e

    def stats(self, *, reset_peaks: bool = False) -> DeviceStats | None:
        try:
            s = self.client.stats(reset_peaks=reset_peaks)
        except DeviceRequestError as e:
            raise self._wrap("stats", e) from e
        return DeviceStats(s.ram_high_water, s.stack_high_water, s.last_call_instructions)

    def drop(self, instance: int) -> None:
        try:
            self.client.drop(instance)
            self._logs.pop(instance, None)
        except DeviceRequestError as e:
            raise self._wrap("drop", e) from e


register_device("process", PosixDut)
