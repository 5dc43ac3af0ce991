"""Device-side steps of `deploy`, run on the device with the release's own Python:

    python -m edge_runtime.fleet.device activate --root ROOT --release ID --service systemd|process
    python -m edge_runtime.fleet.device rollback --root ROOT --service ...
    python -m edge_runtime.fleet.device supervise --root ROOT     (the `process` service manager)

Layout under ROOT: `releases/<id>/` (venv, wheels, guests, models, tls, agent.toml), `current`
(a symlink, switched with one rename), `history.json` (activated releases, oldest first),
`state/` (the agent's, shared by releases), `run/` (results, supervisor pid and log).

`activate` switches `current`, restarts the service and waits until the agent reports the new
release in `state/health.json`; if it does not, it switches back and restarts the previous
release. It writes its result to `run/<token>.json` so the operator can read it even when the
SSH connection dropped meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from .service import SERVICE_MANAGERS, ServiceManager, supervise


def release_of(root: Path) -> str | None:
    link = root / "current"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def switch(root: Path, release: str) -> None:
    """Points `current` at releases/<release> with one rename (atomic)."""
    tmp = root / "current.new"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("releases") / release)
    os.replace(tmp, root / "current")


def history(root: Path) -> list[str]:
    p = root / "history.json"
    return list(json.loads(p.read_text())) if p.is_file() else []


def save_history(root: Path, items: list[str]) -> None:
    tmp = root / "history.json.tmp"
    tmp.write_text(json.dumps(items))
    os.replace(tmp, root / "history.json")


def health(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / "state" / "health.json").read_text()))
    except (OSError, ValueError):
        return {}


def wait_healthy(root: Path, release: str, since: float, timeout: float) -> dict[str, Any] | None:
    """The agent's health once it is the given release, alive and refreshed after `since`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = health(root)
        if h.get("release") == release and float(h.get("time", 0)) >= since:
            try:
                os.kill(int(h["pid"]), 0)
                return h
            except (OSError, KeyError, ValueError):
                pass
        time.sleep(0.2)
    return None


def activate(
    root: Path, release: str, svc: ServiceManager, timeout: float, record: bool = True
) -> dict[str, Any]:
    if not (root / "releases" / release / "agent.toml").is_file():
        return {"ok": False, "error": f"release {release} is not installed on the device"}
    previous = release_of(root)
    since = time.time()
    switch(root, release)
    svc.install()
    svc.restart()
    h = wait_healthy(root, release, since, timeout)
    if h is not None:
        if record:
            items = history(root)
            if not items or items[-1] != release:
                save_history(root, [*items, release])
        return {"ok": True, "release": release, "previous": previous, "health": h}
    result: dict[str, Any] = {
        "ok": False,
        "release": release,
        "error": f"the agent of release {release[:12]} did not report healthy within {timeout:.0f} s",
    }
    if previous and previous != release:
        switch(root, previous)
        svc.restart()
        result["rolled_back_to"] = previous
        result["health"] = wait_healthy(root, previous, time.time(), timeout)
    return result


def rollback(root: Path, svc: ServiceManager, timeout: float) -> dict[str, Any]:
    items = history(root)
    if len(items) < 2:
        return {"ok": False, "error": "no previous release to roll back to"}
    result = activate(root, items[-2], svc, timeout, record=False)
    if result["ok"]:
        save_history(root, items[:-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_runtime.fleet.device")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("activate", "rollback", "supervise"):
        p = sub.add_parser(name)
        p.add_argument("--root", type=Path, required=True)
        if name != "supervise":
            p.add_argument("--service", choices=sorted(SERVICE_MANAGERS), default="systemd")
            p.add_argument("--timeout", type=float, default=60.0)
            p.add_argument("--result", help="token: also write the result to ROOT/run/TOKEN.json")
        if name == "activate":
            p.add_argument("--release", required=True)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.cmd == "supervise":
        return supervise(root)
    svc = SERVICE_MANAGERS[args.service](root)
    if args.cmd == "activate":
        result = activate(root, args.release, svc, args.timeout)
    else:
        result = rollback(root, svc, args.timeout)
    text = json.dumps(result)
    if args.result:
        (root / "run").mkdir(parents=True, exist_ok=True)
        out = root / "run" / f"{args.result}.json"
        out.with_suffix(".tmp").write_text(text)
        os.replace(out.with_suffix(".tmp"), out)
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
