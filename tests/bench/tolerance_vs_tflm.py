"""Measures how far a host NN backend's int8 outputs are from the TFLM oracle, to choose and
justify the per-backend tolerances of tests/conformance/cases/inference.toml.

    .venv-tflite-runtime/bin/python tests/bench/tolerance_vs_tflm.py --backend tflite-runtime

For every shared model and seeds 1..N of the suite's synthetic int8 inputs: the largest
|difference| of the int8 outputs, and on how many inputs the top-1 class differs. A measurement,
not a test.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from build_tools.conformance.inputs import synthetic_int8
from build_tools.conformance.oracle import TflmOracle
from build_tools.paths import shared_root
from edge_runtime.host.backends import get_backend
from edge_runtime.host.backends.base import BackendError


def measure(backend_name: str, seeds: int) -> dict[str, object]:
    backend = get_backend(backend_name)
    oracle = TflmOracle()
    out: dict[str, object] = {}
    for path in sorted((shared_root() / "models").glob("*.tflite")):
        try:
            graph = backend.load(path.read_bytes())
        except BackendError as e:
            out[path.stem] = f"does not load: {e}"
            continue
        ctx = graph.new_context()
        info = graph.inputs[0]
        if info.dtype != np.int8:
            out[path.stem] = f"input dtype {info.dtype}: not measured"
            continue
        worst, top1 = 0, 0
        for seed in range(1, seeds + 1):
            x = synthetic_int8(int(np.prod(info.shape)), seed)
            ctx.set_input(0, x.reshape(info.shape))
            ctx.invoke()
            got = np.asarray(ctx.get_output(0)).reshape(-1).astype(np.int32)
            want = oracle.run(path.stem, x).astype(np.int32)
            worst = max(worst, int(np.abs(got - want).max()))
            top1 += int(np.argmax(got) != np.argmax(want))
        out[path.stem] = {"max_lsb": worst, "top1_differs": f"{top1}/{seeds}"}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    print(json.dumps(measure(args.backend, args.seeds), indent=2))


if __name__ == "__main__":
    main()
