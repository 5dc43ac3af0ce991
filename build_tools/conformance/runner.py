"""Runs conformance cases against one device adapter, using only the `Dut` primitives."""

from __future__ import annotations

import logging
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_runtime.errors import DeviceError

from ..devices.base import CallOutcome, DeviceInfo, Dut
from .cases import Case
from .image_ref import FORMATS, RefImage, apply, random_pixels, tensor_int8
from .inputs import (
    MissingData,
    bmp_gray_int8,
    f32_random,
    f32_rounding,
    shared_file,
    synthetic_int8,
)
from .oracle import OracleUnavailable, TflmOracle
from .tolerance import check_tolerance

log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    id: str
    status: str  # passed | failed | skipped
    detail: str = ""
    seconds: float = 0.0
    ram_high_water: int | None = None  # bytes: heap + stack peak during the case, if reported


@dataclass
class SuiteResult:
    target: str
    cases: list[CaseResult] = field(default_factory=list)
    engine: str = ""  # as the device reports it
    backend: str = ""

    def count(self, status: str) -> int:
        return sum(1 for c in self.cases if c.status == status)

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "engine": self.engine,
            "backend": self.backend,
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "cases": [_case_json(c) for c in self.cases],
        }


def _case_json(c: CaseResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "status": c.status,
        "detail": c.detail,
        "seconds": round(c.seconds, 4),
    }
    if c.ram_high_water is not None:
        out["ram_high_water"] = c.ram_high_water
    return out


class Failed(Exception):
    pass


class Skipped(Exception):
    pass


@dataclass
class _Buffer:
    addr: int
    data: bytes
    oracle_input: np.ndarray | None = None
    image: RefImage | None = None  # pixels as an image, for expect_image / image ops


class _CaseRun:
    """State of one case: instances, buffers, saved values."""

    def __init__(self, runner: Runner, case: Case) -> None:
        self.runner = runner
        self.dut = runner.dut
        self.case = case
        self.instances: dict[str, int] = {}
        self.buffers: dict[str, _Buffer] = {}
        self.vars: dict[str, Any] = {}

    # -- argument expressions -------------------------------------------------------------

    def value(self, expr: Any) -> int:
        if isinstance(expr, bool) or not isinstance(expr, int | str):
            raise Failed(f"bad argument {expr!r}")
        if isinstance(expr, int):
            return expr
        base, _, offset = expr.partition("+")
        extra = int(offset, 0) if offset else 0
        kind, _, name = base.partition(":")
        if kind == "addr":
            return self.buffer(name).addr + extra
        if kind == "len":
            return len(self.buffer(name).data) + extra
        if kind == "count":
            return len(self.buffer(name).data) // 4 + extra
        if kind == "var":
            v = self.vars.get(name)
            if not isinstance(v, int):
                raise Failed(f"no saved integer {name!r}")
            return v + extra
        if kind == "u32":
            raw = self.dut.read_memory(self.instances["main"], self.buffer(name).addr, 4)
            return int(struct.unpack("<I", raw)[0]) + extra
        if kind == "info":
            return int(getattr(self.runner.info, name)) + extra
        raise Failed(f"bad argument expression {expr!r}")

    def buffer(self, name: str) -> _Buffer:
        b = self.buffers.get(name)
        if b is None:
            raise Failed(f"no buffer {name!r}")
        return b

    # -- buffers --------------------------------------------------------------------------

    def make_image(self, spec: dict[str, Any]) -> RefImage | None:
        if "pixels" in spec:
            s = spec["pixels"]
            fmt = FORMATS[s["format"]]
            w, h = int(s["width"]), int(s["height"])
            return RefImage(w, h, fmt, random_pixels(w, h, fmt, int(s["seed"])))
        if "photo" in spec:
            path = shared_file("images", spec["photo"])
            pixels = bmp_gray_int8(path)
            (w,) = struct.unpack_from("<i", path.read_bytes(), 18)
            # The files hold int8 values (see bmp_gray_int8): the photograph is byte ^ 0x80.
            data = (pixels.view(np.uint8) ^ np.uint8(0x80)).tobytes()
            return RefImage(w, len(data) // w, FORMATS["gray8"], data)
        return None

    def make_buffer(self, spec: dict[str, Any]) -> tuple[bytes, np.ndarray | None]:
        if "text" in spec:
            text = str(spec["text"])
            if spec.get("format"):
                text = text.replace("{nn_backend}", self.runner.info.nn_backend)
            return text.encode(), None
        if "hex" in spec:
            return bytes.fromhex(spec["hex"]), None
        if "u32" in spec:
            return struct.pack(f"<{len(spec['u32'])}I", *spec["u32"]), None
        if "zeros" in spec:
            return bytes(int(spec["zeros"])), None
        if "image" in spec:
            pixels = bmp_gray_int8(shared_file("images", spec["image"]))
            return pixels.tobytes(), pixels
        if "synthetic" in spec:
            s = spec["synthetic"]
            values = synthetic_int8(int(s["count"]), int(s["seed"]))
            return values.tobytes(), values
        if "f32_rounding" in spec:
            s = spec["f32_rounding"]
            raw, q = f32_rounding(int(s["count"]), int(s["zero_point"]))
            return raw, q
        if "f32_random" in spec:
            s = spec["f32_random"]
            raw, q = f32_random(
                int(s["count"]), int(s["seed"]), float(s["scale"]), int(s["zero_point"])
            )
            return raw, q
        if "model_file" in spec:
            return shared_file("models", f"{spec['model_file']}.tflite").read_bytes(), None
        if "model_prefix" in spec:
            s = spec["model_prefix"]
            data = shared_file("models", f"{s['model']}.tflite").read_bytes()
            return data[: int(s["bytes"])], None
        if "model_flip" in spec:  # one damaged byte: data[offset] ^= 0xFF
            s = spec["model_flip"]
            flipped = bytearray(shared_file("models", f"{s['model']}.tflite").read_bytes())
            offset = int(s["offset"])
            if not 0 <= offset < len(flipped):
                raise Failed(f"model_flip offset {offset} outside {s['model']}")
            flipped[offset] ^= 0xFF
            return bytes(flipped), None
        if "builder" in spec:
            words = [self.value(x) for pair in spec["builder"] for x in pair]
            return struct.pack(f"<{len(words)}I", *[w & 0xFFFFFFFF for w in words]), None
        if "tensor" in spec:
            t = spec["tensor"]
            fields = [
                self.value(t[k]) & 0xFFFFFFFF
                for k in ("dims_ptr", "dims_len", "type", "data_ptr", "data_len")
            ]
            return struct.pack(
                "<IIB3xII", fields[0], fields[1], fields[2] & 0xFF, fields[3], fields[4]
            ), None
        if "legacy_tensor" in spec:
            t = spec["legacy_tensor"]
            dims_ptr, ttype, data_ptr = (
                self.value(t[k]) & 0xFFFFFFFF for k in ("dims_ptr", "type", "data_ptr")
            )
            return struct.pack("<IB3xI", dims_ptr, ttype & 0xFF, data_ptr), None
        raise Failed(f"buffer {spec.get('name')!r}: unknown kind")

    def add_buffer(self, spec: dict[str, Any]) -> None:
        image = self.make_image(spec)
        oracle_input: np.ndarray | None
        if image is not None:
            data, oracle_input = image.data, tensor_int8(image)
        else:
            data, oracle_input = self.make_buffer(spec)
        main = self.instances["main"]
        out = self.dut.call(main, "alloc", [max(len(data), 1)])
        if out.status != "ok" or not out.value:
            if out.status == "ok":  # a case that needs more memory declares requires.memory_kib
                raise Failed(
                    f"guest alloc({len(data)}) for buffer {spec['name']!r} returned NULL "
                    "(requires.memory_kib too low?)"
                )
            raise Failed(
                f"alloc({len(data)}) for buffer {spec['name']!r}: {out.status} {out.message}"
            )
        addr = out.value & 0xFFFFFFFF
        if data:
            self.dut.write_memory(main, addr, data)
        self.buffers[spec["name"]] = _Buffer(addr, data, oracle_input, image)

    # -- steps ----------------------------------------------------------------------------

    def run(self) -> None:
        self.instantiate("main", self.case.guest)
        for spec in self.case.buffers:
            self.add_buffer(spec)
        for i, step in enumerate(self.case.steps):
            try:
                self.step(step)
            except Failed as e:
                raise Failed(f"step {i + 1} ({_describe(step)}): {e}") from e

    def instantiate(self, label: str, guest: str) -> None:
        wasm = self.runner.guests.get(guest)
        if wasm is None:
            raise Skipped(f"guest {guest} is not built for this target")
        try:
            self.instances[label] = self.dut.instantiate(guest, wasm)
        except DeviceError as e:  # NotSupported too: the suite's guests are the target's own
            raise Failed(f"instantiate {guest}: {e}") from e

    def step(self, step: dict[str, Any]) -> None:
        if "instantiate" in step:
            self.instantiate(step["instantiate"], step["guest"])
        elif "call" in step:
            self.call(step)
        elif "read" in step:
            self.read(step)
        elif "logs_contain" in step or "logs_exclude" in step:
            logs = self.dut.logs(self.instances[step.get("instance", "main")])
            if "logs_contain" in step and step["logs_contain"].encode() not in logs:
                raise Failed(f"logs do not contain {step['logs_contain']!r}: {logs[-200:]!r}")
            if "logs_exclude" in step and step["logs_exclude"].encode() in logs:
                raise Failed(f"logs contain {step['logs_exclude']!r}")
        elif "compare" in step:
            left, op, right = step["compare"]
            a, b = self.operand(left), self.operand(right)
            ok = {">": a > b, "<": a < b, "==": a == b, "!=": a != b, ">=": a >= b}[op]
            if not ok:
                raise Failed(f"{left}={a} {op} {right}={b} does not hold")

    def operand(self, expr: Any) -> int:
        if isinstance(expr, str):
            m = re.fullmatch(r"var:(\w+)\[(\d+)\]", expr)
            if m:
                raw = self.vars.get(m.group(1))
                if not isinstance(raw, bytes):
                    raise Failed(f"no saved bytes {m.group(1)!r}")
                return int(np.frombuffer(raw, np.int8)[int(m.group(2))])
        return self.value(expr)

    def call(self, step: dict[str, Any]) -> None:
        instance = self.instances[step.get("instance", "main")]
        args = [self.value(a) for a in step.get("args", [])]
        repeat = self.value(step.get("repeat", 1))
        for _ in range(repeat):
            out = self.dut.call(instance, step["call"], args)
            self.check_call(step, out)
        if "save" in step:
            self.vars[step["save"]] = out.value

    @staticmethod
    def check_call(step: dict[str, Any], out: CallOutcome) -> None:
        want_status = step.get("expect_status", "ok")
        if out.status != want_status:
            raise Failed(f"status {out.status} ({out.message}), expected {want_status}")
        want_msg = step.get("expect_message")
        if want_msg and want_msg.lower() not in out.message.lower():
            raise Failed(f"message {out.message!r} does not mention {want_msg!r}")
        if "expect" in step and out.value != step["expect"]:
            raise Failed(f"returned {out.value}, expected {step['expect']}")
        if "expect_min" in step and (out.value is None or out.value < step["expect_min"]):
            raise Failed(f"returned {out.value}, expected >= {step['expect_min']}")
        if "expect_exit" in step and out.exit_code != step["expect_exit"]:
            raise Failed(f"exit code {out.exit_code}, expected {step['expect_exit']}")

    def read(self, step: dict[str, Any]) -> None:
        target = step["read"]
        if isinstance(target, str):
            addr, n = self.buffer(target).addr, len(self.buffer(target).data)
        else:
            addr, n = self.value(target["addr"]), self.value(target["len"])
        data = self.dut.read_memory(self.instances["main"], addr & 0xFFFFFFFF, n)
        if "expect_hex" in step and data.hex() != step["expect_hex"]:
            raise Failed(f"read {data.hex()}, expected {step['expect_hex']}")
        if "expect_u32" in step:
            got = list(struct.unpack(f"<{n // 4}I", data[: n // 4 * 4]))
            if got != step["expect_u32"]:
                raise Failed(f"read u32 {got}, expected {step['expect_u32']}")
        if "expect_output" in step:
            self.check_output(step["expect_output"], data)
        if "expect_image" in step:
            self.check_image(step["expect_image"], data)
        if "save" in step:
            self.vars[step["save"]] = data

    def image(self, name: str, ops: list[list[Any]]) -> RefImage:
        source = self.buffer(name).image
        if source is None:
            raise Failed(f"buffer {name!r} is not an image (pixels or photo)")
        return apply(source, ops)

    def check_image(self, spec: dict[str, Any], data: bytes) -> None:
        """The bytes read must be the reference's pixels (build_tools/conformance/image_ref)."""
        want = self.image(spec["input"], spec.get("ops", [])).data
        if data != want:
            if len(data) != len(want):
                raise Failed(f"read {len(data)} bytes, the reference image has {len(want)}")
            i = next(k for k in range(len(want)) if data[k] != want[k])
            raise Failed(f"byte {i}: read {data[i]}, reference {want[i]} ({len(want)} bytes)")

    def check_output(self, spec: dict[str, Any], data: bytes) -> None:
        model = spec["model"]
        source = self.buffer(spec["input"])
        oracle_input = source.oracle_input
        if "ops" in spec or "layout" in spec:  # an image turned into a tensor by to_tensor
            image = self.image(spec["input"], spec.get("ops", []))
            oracle_input = tensor_int8(image, spec.get("layout", "nhwc"))
        if oracle_input is None:
            raise Failed(f"buffer {spec['input']!r} has no oracle input")
        try:
            expected = self.runner.oracle.run(model, oracle_input, int(spec.get("index", 0)))
        except OracleUnavailable as e:
            raise Skipped(str(e)) from e
        if spec.get("f32"):
            actual = dequantized_to_int8(data, float(spec["scale"]), int(spec["zero_point"]))
        else:
            actual = np.frombuffer(data, np.int8)
        backend = self.runner.info.model_backends.get(model, self.runner.info.nn_backend)
        tol = self.case.tolerance.get(backend, self.case.tolerance.get("default", "exact"))
        problem = check_tolerance(actual, expected.astype(np.int8), tol)
        if problem:
            raise Failed(f"{model} on {backend} vs TFLM: {problem}")


def dequantized_to_int8(data: bytes, scale: float, zero_point: int) -> np.ndarray:
    """f32 outputs must be exactly (q - zero_point) * scale in f32: recover q, or fail."""
    f = np.frombuffer(data, "<f4")
    q = np.round(f.astype(np.float64) / scale) + zero_point
    back = ((q - zero_point).astype(np.float32) * np.float32(scale)).astype(np.float32)
    if not np.array_equal(back, f):
        bad = int(np.argmax(back != f))
        raise Failed(
            f"f32 output[{bad}]={f[bad]!r} is not (q - {zero_point}) * {scale} for an integer q"
        )
    if q.min() < -128 or q.max() > 127:
        raise Failed("f32 output outside the int8 range")
    return q.astype(np.int8)


def _describe(step: dict[str, Any]) -> str:
    for key in ("call", "read", "compare", "instantiate", "logs_contain", "logs_exclude"):
        if key in step:
            return f"{key} {step[key]}"
    return "?"


class Runner:
    def __init__(
        self, dut: Dut, guests: dict[str, bytes], oracle: TflmOracle | None = None
    ) -> None:
        self.dut = dut
        self.guests = guests
        self.oracle = oracle or TflmOracle()
        self._info: DeviceInfo | None = None
        self._no_stats = False  # the device reported no stats: do not ask again

    @property
    def info(self) -> DeviceInfo:
        if self._info is None:
            self._info = self.dut.info()
        return self._info

    def requirements(self, case: Case) -> str | None:
        """Why the case cannot run on this device, or None."""
        info = self.info
        if case.memory_kib > info.memory_budget_kib:
            return f"does not fit: needs {case.memory_kib} KiB, budget {info.memory_budget_kib} KiB"
        for model in case.models:
            if model not in info.models:
                try:
                    self.dut.put_model(model, shared_file("models", f"{model}.tflite").read_bytes())
                except MissingData as e:
                    return str(e)
                except DeviceError as e:
                    return f"does not fit: model {model}: {e}"
                self._info = None
            why = info.model_backends.get(model, "")
            if why.startswith("none"):
                return f"model {model} runs on no backend of this device: {why}"
        return None

    def run_case(self, case: Case) -> CaseResult:
        start = time.perf_counter()
        reason = self.requirements(case)
        if reason is not None:
            return CaseResult(case.id, "skipped", reason, time.perf_counter() - start)
        run = _CaseRun(self, case)
        ram: int | None = None
        measured = self._reset_peaks()
        try:
            run.run()
            status, detail = "passed", ""
        except Skipped as e:
            status, detail = "skipped", str(e)
        except MissingData as e:
            status, detail = "skipped", str(e)
        except Failed as e:
            status, detail = "failed", str(e)
        except DeviceError as e:
            status, detail = "failed", f"device error: {e}"
        finally:
            for iid in run.instances.values():
                try:
                    self.dut.drop(iid)
                except DeviceError as e:
                    log.warning("dropping instance %d: %s", iid, e)
            if measured and status != "skipped":
                ram = self._ram_high_water()
        return CaseResult(case.id, status, detail, time.perf_counter() - start, ram)

    def _reset_peaks(self) -> bool:
        """Restart the device's memory peaks before a case; False when it has none to report."""
        if self._no_stats:
            return False
        try:
            self._no_stats = self.dut.stats(reset_peaks=True) is None
        except DeviceError as e:
            log.warning("reading device stats: %s", e)
            return False
        return not self._no_stats

    def _ram_high_water(self) -> int | None:
        try:
            stats = self.dut.stats()
        except DeviceError as e:
            log.warning("reading device stats: %s", e)
            return None
        return stats.ram_high_water if stats is not None else None

    def run(self, cases: list[Case], pattern: str | None = None) -> SuiteResult:
        info = self.info
        result = SuiteResult(self.dut.target.name, engine=info.engine, backend=info.nn_backend)
        for case in cases:
            if pattern and not re.search(pattern, case.id):
                continue
            result.cases.append(self.run_case(case))
            log.info("%s: %s %s", case.id, result.cases[-1].status, result.cases[-1].detail)
        return result
