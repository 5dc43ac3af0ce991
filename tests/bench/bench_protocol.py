"""Protocol overhead and latency against the C test device over a pipe.

Run from the repository root:  .venv/bin/python tests/bench/bench_protocol.py [--json]

Measures (1) payload bytes / wire bytes for a 300 KB upload at the device's max payload and
(2) the round-trip time of CALL "add" over the pipe, median of 1000.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `tests` and `build_tools` importable
    sys.path.insert(0, str(ROOT))

from edge_runtime.protocol import DeviceClient, ProcessStream  # noqa: E402
from edge_runtime.protocol.messages import Kind  # noqa: E402
from tests.protocol.builds import build_variant  # noqa: E402

UPLOAD = 300_000
CALLS = 1000


def measure(binary: Path) -> dict[str, float]:
    with ProcessStream([str(binary), "--storage", str(UPLOAD + 4096)]) as stream:
        client = DeviceClient(stream, "proto-testdev")
        info = client.hello()
        data = random.Random(0).randbytes(UPLOAD)
        out0, in0 = client.wire_bytes_out, client.wire_bytes_in
        t0 = time.perf_counter()
        client.put(Kind.MODULE, "bench", data)
        upload_s = time.perf_counter() - t0
        out_bytes = client.wire_bytes_out - out0
        in_bytes = client.wire_bytes_in - in0
        inst = client.instantiate("bench")
        for _ in range(50):  # warm-up
            client.call(inst, "add", [1, 2])
        rtts = []
        for i in range(CALLS):
            t = time.perf_counter()
            res = client.call(inst, "add", [i, 1])
            rtts.append(time.perf_counter() - t)
            assert res.result == i + 1
        return {
            "max_payload": info.max_payload,
            "upload_payload_bytes": UPLOAD,
            "upload_wire_bytes_host_to_device": out_bytes,
            "upload_wire_bytes_device_to_host": in_bytes,
            "upload_efficiency_tx": UPLOAD / out_bytes,
            "upload_efficiency_both": UPLOAD / (out_bytes + in_bytes),
            "upload_seconds": upload_s,
            "call_rtt_median_us": statistics.median(rtts) * 1e6,
            "call_rtt_p99_us": sorted(rtts)[int(0.99 * len(rtts))] * 1e6,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = measure(build_variant("plain"))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"max payload                 {result['max_payload']:.0f} bytes")
    print(
        f"300 KB upload               {UPLOAD} payload bytes, "
        f"{result['upload_wire_bytes_host_to_device']:.0f} wire bytes host->device, "
        f"{result['upload_wire_bytes_device_to_host']:.0f} device->host"
    )
    print(
        f"  payload/wire              {result['upload_efficiency_tx']:.4f} (host->device), "
        f"{result['upload_efficiency_both']:.4f} (both directions)"
    )
    print(f"  time over the pipe        {result['upload_seconds'] * 1000:.1f} ms")
    print(
        f"CALL round trip             median {result['call_rtt_median_us']:.1f} us, "
        f"p99 {result['call_rtt_p99_us']:.1f} us ({CALLS} calls)"
    )


if __name__ == "__main__":
    main()
