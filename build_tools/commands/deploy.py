"""`deploy TARGET --host user@addr[:port]`: the device runtime, guests, models, the device
certificate and the agent service over SSH (build_tools.fleet.deploy); `--rollback` goes back
one release; `--dry-run` prints the plan."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..errors import BuildToolsError
from ..targets import load_target
from . import Command


class DeployCommand(Command):
    name = "deploy"
    help = "install the runtime, guests, models, certificate and agent service on a device over SSH"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", help="a target whose connection is ssh (rpi4, rpi5)")
        parser.add_argument(
            "--host", help="user@address[:port] (default: the target's connection.host)"
        )
        parser.add_argument("--identity", type=Path, help="SSH private key")
        parser.add_argument(
            "--known-hosts", type=Path, help="known_hosts file (default ~/.ssh/known_hosts)"
        )
        parser.add_argument(
            "--accept-new-host-key",
            action="store_true",
            help="pin the host key of a host not yet in known_hosts",
        )
        parser.add_argument(
            "--root",
            help="install directory on the device (default: the target's connection.install_dir)",
        )
        parser.add_argument(
            "--device", help="device id = certificate name (default: the host's address)"
        )
        parser.add_argument(
            "--pki", help="the fleet CA directory (default: $BUILD_TOOLS_FLEET_PKI or ./fleet-pki)"
        )
        parser.add_argument(
            "--broker",
            default="localhost:8883",
            help="HOST:PORT of the broker, as the device reaches it",
        )
        parser.add_argument(
            "--service",
            choices=["systemd", "process"],
            default="systemd",
            help="service manager on the device (process: a supervised process, where there is no systemd)",
        )
        parser.add_argument(
            "--python",
            default="python3",
            help="Python on the device to create the release venv with",
        )
        parser.add_argument(
            "--backend",
            help="NN backend (default: the target's); decides which backend package is installed",
        )
        parser.add_argument(
            "--wheelhouse",
            type=Path,
            help="directory of dependency wheels for the device's platform: installed offline",
        )
        parser.add_argument(
            "--no-models", action="store_true", help="do not ship the target's models"
        )
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="seconds for the agent to report healthy"
        )
        parser.add_argument(
            "--rollback", action="store_true", help="go back to the previous release"
        )
        parser.add_argument(
            "--arch",
            help="the device's architecture (`uname -m`) when it is not the target's "
            "(the runtime wheel is built for it; deploy checks the device)",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument("--json", action="store_true")

    def run(self, args: argparse.Namespace) -> int:
        from edge_runtime.fleet.mqtt import parse_broker

        from ..fleet import deploy
        from ..toolchains.ssh import SshSession, parse_host

        target = load_target(args.target)
        host_text = args.host or target.connection.host
        if not host_text:
            raise BuildToolsError(f"target {target.name}: no --host and no connection.host")
        host = parse_host(host_text)
        root = args.root or target.connection.install_dir
        if not root:
            raise BuildToolsError(f"target {target.name}: no --root and no connection.install_dir")

        def session() -> SshSession:
            return SshSession(host, args.identity, args.known_hosts, args.accept_new_host_key)

        if args.rollback:
            if args.dry_run:
                print(f"would roll {host} back to the previous release under {root}")
                return 0
            with session() as s:
                out = deploy.rollback(root, args.service, s, args.timeout)
            return self._report(args, out.action, out.release, out.result)
        pki = Path(args.pki or os.environ.get("BUILD_TOOLS_FLEET_PKI", "fleet-pki"))
        plan = deploy.make_plan(
            target,
            host,
            root=root,
            device=args.device or host.address,
            pki_dir=pki,
            broker=parse_broker(args.broker),
            service=args.service,
            python=args.python,
            backend=args.backend,
            wheelhouse=args.wheelhouse,
            models=not args.no_models,
            arch=args.arch,
        )
        if args.dry_run:
            desc = plan.describe()
            if args.json:
                print(json.dumps(desc, indent=2))
            else:
                print(f"release {plan.release} of {target.name} to {host}:{root} ({plan.service})")
                for step in desc["steps"]:
                    print(f"  {step}")
                for note in desc["notes"]:
                    print(f"  note: {note}")
            return 0

        def progress(path: str, size: int) -> None:
            if not args.json:
                print(f"  uploaded {path} ({size} bytes)", file=sys.stderr)

        with session() as s:
            out = deploy.deploy(plan, s, args.timeout, progress)
        return self._report(args, out.action, out.release, out.result)

    def _report(
        self, args: argparse.Namespace, action: str, release: str, result: dict[str, object]
    ) -> int:
        if args.json:
            print(json.dumps({"action": action, "release": release, **result}, indent=2))
        else:
            health = result.get("health") or {}
            version = health.get("version") if isinstance(health, dict) else None
            print(
                f"{action}: release {release}" + (f" (agent {version} running)" if version else "")
            )
        return 0
