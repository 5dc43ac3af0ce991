"""Runs the licence-plate reader on a set of synthetic plates and measures it.

Two ways, the same C stages (guests/include/plates/plates.h):
- `run_pipeline`: the EVP deployment of five modules (guests/src/evp/plate_*.c) on the Python
  host or a C runtime that runs deployments (posix with WAMR): locate -> crop -> segment ->
  ocr (wasi-nn) -> assemble, wired by `manifest()`.
- `run_reactor`: the reactor guest `plates` (all stages in one call) on any target's device,
  where the deployment does not fit (qemu-rv32: five instances of >= 64 KiB linear memory).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BuildToolsError
from ..paths import project_models_dir
from .synth import Plate

if TYPE_CHECKING:
    from edge_runtime.deployment.runner import DeploymentRun

    from ..targets import Target

MODEL_NAME = "plate_ocr_int8"
STAGES = ("locate", "crop", "segment", "ocr", "assemble")
FRAMES_TOPIC = "frames"
# instance -> (module, publish alias, subscribe alias); each publish alias is also its topic.
CHAIN = (
    ("locate", "plate_locate", "located", FRAMES_TOPIC),
    ("crop", "plate_crop", "crop", "located"),
    ("segment", "plate_segment", "chars", "crop"),
    ("ocr", "plate_ocr", "scores", "chars"),
    ("assemble", "plate_assemble", None, "scores"),
)


def model_path() -> Path:
    """The project's own OCR model (trained by guests/models/train_plate_ocr.py)."""
    return project_models_dir() / f"{MODEL_NAME}.tflite"


@dataclass
class Readout:
    """What a reader produced for a set of plates."""

    texts: list[str]  # per plate, in order ("" when nothing was read)
    stage_us: list[list[int]]  # per plate, per stage (STAGES)
    seconds: float  # wall time for the whole set
    errors: list[str] = field(default_factory=list)

    def accuracy(self, plates: list[Plate]) -> float:
        right = sum(t == p.text for t, p in zip(self.texts, plates, strict=True))
        return right / len(plates) if plates else 0.0

    def stage_means_ms(self) -> dict[str, float]:
        n = max(len(self.stage_us), 1)
        return {s: sum(row[i] for row in self.stage_us) / n / 1000 for i, s in enumerate(STAGES)}


def manifest(modules: dict[str, Path], fmt: str | None = None) -> dict[str, Any]:
    """The EVP deployment of the reader: modules name -> .wasm (downloadUrl + sha256)."""
    used = {module for _, module, _, _ in CHAIN}
    missing = used - set(modules)
    if missing:
        raise BuildToolsError(f"plate reader: EVP modules not built: {', '.join(sorted(missing))}")
    specs = {
        name: {
            "moduleId": module,
            "publish": {pub: pub} if pub else {},
            "subscribe": {"in": sub},
        }
        for name, module, pub, sub in CHAIN
    }
    topics = [pub for _, _, pub, _ in CHAIN if pub]
    d: dict[str, Any] = {
        "instanceSpecs": specs,
        "modules": {
            m: {
                "moduleImpl": "wasm",
                "entryPoint": "main",
                "downloadUrl": modules[m].resolve().as_uri(),
                "hash": hashlib.sha256(modules[m].read_bytes()).hexdigest(),
            }
            for m in sorted(used)
        },
        "publishTopics": {t: {"type": "local", "topic": t} for t in topics},
        "subscribeTopics": {t: {"type": "local", "topic": t} for t in [FRAMES_TOPIC, *topics]},
    }
    if fmt is not None:
        d["x-build-tools"] = {"instances": {"assemble": {"config": {"format": fmt}}}}
    d = {"deploymentId": "", **d}
    d["deploymentId"] = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
    return {"deployment": d}


def run_pipeline(
    plates: list[Plate],
    modules: dict[str, Path],
    backend: str | None = None,
    target: Target | None = None,
) -> Readout:
    """The EVP deployment on the target's device (default: the Python host; a C runtime runs
    it itself, devices/pipeline_driver.py), one frame after another as fast as it takes them
    (backpressure paces the injection)."""
    from edge_runtime.deployment import parse_deployment
    from edge_runtime.deployment.runner import PipelineEvent

    from ..devices.base import open_device
    from ..targets import load_target

    deployment = parse_deployment(json.dumps(manifest(modules)), "plate reader manifest")
    results: dict[int, tuple[str, list[int]]] = {}
    done = threading.Condition()
    errors: list[str] = []

    def on_event(event: PipelineEvent) -> None:
        if event.kind == "telemetry" and "plate" in event.data:
            value = event.data["plate"]
            value = json.loads(value) if isinstance(value, str | bytes) else value
            with done:
                results[int(value["frame"])] = (str(value["text"]), list(value["stage_us"]))
                done.notify_all()
        elif event.kind in ("failure", "restart"):
            errors.append(f"{event.instance}: {event.kind}: {event.data}")
        elif event.kind == "state" and event.data.get("topic") == "error":
            errors.append(f"{event.instance}: {event.data['value'].decode(errors='replace')}")

    target = target or load_target("host")
    options: dict[str, Any] = {"models": [(MODEL_NAME, model_path())]}
    if backend:
        options["backend"] = backend
    with open_device(target, options) as dut:
        return _read(dut.deployment(deployment, on_event), plates, results, done, errors)


def _read(
    pipeline: DeploymentRun,
    plates: list[Plate],
    results: dict[int, tuple[str, list[int]]],
    done: threading.Condition,
    errors: list[str],
) -> Readout:
    from edge_runtime.deployment.runner import SendOutcome

    try:
        pipeline.start()
        t0 = time.perf_counter()
        for p in plates:
            while pipeline.inject(FRAMES_TOPIC, p.pgm) is SendOutcome.DENIED:
                time.sleep(0.01)
        with done:
            done.wait_for(lambda: len(results) >= len(plates) or bool(errors), 30 + len(plates))
        seconds = time.perf_counter() - t0
        status = pipeline.status()
    finally:
        pipeline.stop()
    for name, inst in status["instances"].items():
        if inst["status"] == "error":
            errors.append(f"{name}: {inst.get('failureMessage', 'error')}")
    texts = [results.get(i, ("", [0] * len(STAGES)))[0] for i in range(len(plates))]
    times = [results.get(i, ("", [0] * len(STAGES)))[1] for i in range(len(plates))]
    return Readout(texts, times, seconds, errors)


def pgm_pixels(pgm: bytes) -> tuple[int, int, bytes]:
    """Width, height and pixels of a binary PGM as synth.pgm writes it (`P5 W H 255`)."""
    fields = pgm.split(maxsplit=4)
    if len(fields) < 5 or fields[0] != b"P5" or fields[3] != b"255":
        raise BuildToolsError("plate frame: not an 8-bit binary PGM")
    w, h = int(fields[1]), int(fields[2])
    return w, h, pgm[len(pgm) - w * h :]


def run_reactor(dut: Any, wasm: bytes, plates: list[Plate], frames: bool | None = None) -> Readout:
    """The reactor guest `plates` on an open device (`devices.base.Dut`). frames: hand each
    frame over as an image handle (`Dut.put_frame`, read_plate_image) instead of writing the
    PGM into guest memory (read_plate); default: when the device takes frames."""
    use_frames = dut.takes_frames if frames is None else frames
    if MODEL_NAME not in dut.info().models:  # built in where the target lists it
        dut.put_model(MODEL_NAME, model_path().read_bytes())
    iid = dut.instantiate("plates", wasm)
    texts: list[str] = []
    times: list[list[int]] = []
    errors: list[str] = []
    try:
        buf = 0
        if not use_frames:  # the PGM goes into a guest buffer
            size = max(len(p.pgm) for p in plates)
            out = dut.call(iid, "alloc", [size])
            if out.status != "ok" or not out.value:
                raise BuildToolsError(f"plates guest: alloc({size}) failed: {out.message}")
            buf = out.value
        text_ptr = dut.call(iid, "text_ptr", []).value or 0
        times_ptr = dut.call(iid, "times_ptr", []).value or 0
        t0 = time.perf_counter()
        for p in plates:
            if use_frames:
                w, h, px = pgm_pixels(p.pgm)
                image = dut.put_frame(iid, w, h, "gray8", px)
                r = dut.call(iid, "read_plate_image", [image])  # drops the handle
            else:
                dut.write_memory(iid, buf, p.pgm)
                r = dut.call(iid, "read_plate", [buf, len(p.pgm)])
            if r.status != "ok" or r.value is None:
                errors.append(f"read_plate: {r.status}: {r.message}")
                texts.append("")
                times.append([0] * len(STAGES))
                continue
            n = r.value if r.value < 2**31 else r.value - 2**32
            text = dut.read_memory(iid, text_ptr, n).decode("ascii") if n > 0 else ""
            texts.append(text)
            raw = dut.read_memory(iid, times_ptr, 4 * len(STAGES))
            times.append([int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)])
            if n < -3:
                errors.append(f"read_plate: wasi-nn error {-n - 1000}")
        seconds = time.perf_counter() - t0
    finally:
        dut.drop(iid)
    return Readout(texts, times, seconds, errors)
