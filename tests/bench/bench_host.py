"""Host benchmark entry point (not collected by pytest: a measurement, not a timed test).

    .venv/bin/python tests/bench/bench_host.py [-n ITERATIONS]

Same as `python -m build_tools bench host --json`.
"""

from __future__ import annotations

import sys

from build_tools.cli import run

if __name__ == "__main__":
    sys.exit(run(["bench", "host", "--json", *sys.argv[1:]]))
