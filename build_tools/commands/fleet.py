"""`fleet ...`: the operator's CLI for devices that run the agent (build_tools.fleet).

    fleet ca init [--host NAME]...        the CA, the broker's server certificate, the operator's
    fleet cert issue DEVICE | revoke DEVICE
    fleet broker [--port N]               mosquitto with the fleet's mutual-TLS listener
    fleet publish manifest.json --devices a,b [--wait S]
    fleet status [--devices a,b] | logs DEVICE | call DEVICE INSTANCE EXPORT [ARGS...]

Every subcommand takes --json. The CA directory is --pki (default $BUILD_TOOLS_FLEET_PKI or
./fleet-pki); the broker is --broker HOST:PORT (default localhost:8883).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import BuildToolsError
from . import Command

DEFAULT_BROKER = "localhost:8883"


def _pki_dir(args: argparse.Namespace) -> Path:
    return Path(args.pki or os.environ.get("BUILD_TOOLS_FLEET_PKI", "fleet-pki"))


def _devices(text: str | None) -> list[str]:
    return [d for d in (text or "").split(",") if d]


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


class FleetCommand(Command):
    name = "fleet"
    help = "operate a fleet of devices running the agent: CA, certificates, broker, publish, status, logs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--pki", help="the fleet CA directory (default: $BUILD_TOOLS_FLEET_PKI or ./fleet-pki)"
        )
        common.add_argument("--broker", default=DEFAULT_BROKER, help="HOST:PORT of the broker")
        common.add_argument("--json", action="store_true", help="machine-readable output")
        sub = parser.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND", required=True)

        ca = sub.add_parser("ca", help="the certificate authority").add_subparsers(
            dest="ca_command", required=True
        )
        p = ca.add_parser(
            "init",
            parents=[common],
            help="create the CA, the broker's and the operator's certificates",
        )
        p.add_argument(
            "--host",
            action="append",
            default=[],
            help="broker host name or address for its certificate (repeatable; default localhost, 127.0.0.1)",
        )

        cert = sub.add_parser("cert", help="device certificates").add_subparsers(
            dest="cert_command", required=True
        )
        p = cert.add_parser(
            "issue", parents=[common], help="issue a device certificate (the CN is the device id)"
        )
        p.add_argument("device")
        p.add_argument("--days", type=int, default=825)
        p = cert.add_parser(
            "revoke",
            parents=[common],
            help="revoke a certificate (the broker refuses it after a restart)",
        )
        p.add_argument("device")

        p = sub.add_parser(
            "broker",
            parents=[common],
            help="run mosquitto with the fleet's mutual-TLS listener (foreground)",
        )
        p.add_argument(
            "--persistence", type=Path, help="directory for the broker's persistent sessions"
        )

        p = sub.add_parser(
            "publish", parents=[common], help="publish a deployment manifest to devices"
        )
        p.add_argument("manifest", type=Path)
        p.add_argument("--devices", required=True, help="comma-separated device ids")
        p.add_argument(
            "--wait",
            type=float,
            default=60.0,
            help="seconds to wait for every device to report (0: do not wait)",
        )

        p = sub.add_parser("status", parents=[common], help="what each device reports")
        p.add_argument(
            "--devices", help="comma-separated device ids (default: every device that reported)"
        )

        p = sub.add_parser("logs", parents=[common], help="the last lines of a device's agent log")
        p.add_argument("device")

        p = sub.add_parser(
            "call", parents=[common], help="call an export of an instance (EVP direct command)"
        )
        p.add_argument("device")
        p.add_argument("instance")
        p.add_argument("export")
        p.add_argument("args", nargs="*", type=int)

    def run(self, args: argparse.Namespace) -> int:
        handler = getattr(self, f"_{args.fleet_command}")
        return int(handler(args))

    # -- subcommands ----------------------------------------------------------------------------

    def _ca(self, args: argparse.Namespace) -> int:
        from ..fleet.operator import OPERATOR
        from ..fleet.pki import CertificateAuthority

        ca = CertificateAuthority(_pki_dir(args))
        ca.init()
        hosts = tuple(args.host) or ("localhost", "127.0.0.1")
        broker = ca.issue("broker", kind="server", hosts=hosts)
        op = ca.issue(OPERATOR, kind="operator")
        data = {
            "ca": str(ca.ca_cert_path),
            "crl": str(ca.crl_path),
            "broker": str(broker.cert),
            "operator": str(op.cert),
        }
        _emit(
            args,
            data,
            f"CA created in {ca.dir} (broker certificate for {', '.join(hosts)}, operator certificate)",
        )
        return 0

    def _cert(self, args: argparse.Namespace) -> int:
        from ..fleet.pki import CertificateAuthority

        ca = CertificateAuthority(_pki_dir(args))
        if args.cert_command == "issue":
            issued = ca.issue(args.device, days=args.days)
            data = {
                "device": args.device,
                "cert": str(issued.cert),
                "key": str(issued.key),
                "serial": issued.serial,
            }
            _emit(args, data, f"{args.device}: {issued.cert} (key {issued.key})")
        else:
            serial = ca.revoke(args.device)
            data = {"device": args.device, "serial": serial, "crl": str(ca.crl_path)}
            _emit(
                args,
                data,
                f"{args.device}: revoked (serial {serial}); restart the broker to apply {ca.crl_path}",
            )
        return 0

    def _broker(self, args: argparse.Namespace) -> int:
        from edge_runtime.fleet.mqtt import parse_broker

        from ..fleet.operator import OPERATOR
        from ..fleet.pki import CertificateAuthority
        from ..toolchains.mosquitto import Broker, BrokerConfig, render_acl

        ca = CertificateAuthority(_pki_dir(args))
        host, port = parse_broker(args.broker)
        work = ca.dir / "broker"
        work.mkdir(parents=True, exist_ok=True)
        acl = work / "acl"
        acl.write_text(render_acl((OPERATOR,)))
        cfg = BrokerConfig(
            port,
            ca.ca_cert_path,
            ca.cert_path("broker"),
            ca.key_path("broker"),
            ca.crl_path,
            acl,
            args.persistence,
            bind_address=host,
        )
        broker = Broker(cfg, work)
        broker.start()
        _emit(
            args,
            {"port": port, "config": str(broker.config_file), "log": str(broker.log_file)},
            f"broker on {host}:{port} (log {broker.log_file}); Ctrl-C stops it",
        )
        sys.stdout.flush()
        try:
            assert broker.proc is not None
            broker.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            broker.stop()
        return 0

    def _endpoint(self, args: argparse.Namespace) -> Any:
        from edge_runtime.fleet.mqtt import parse_broker

        from ..fleet.operator import operator_endpoint

        host, port = parse_broker(args.broker)
        return operator_endpoint(_pki_dir(args), host, port)

    def _publish(self, args: argparse.Namespace) -> int:
        from ..fleet.operator import load_manifest, publish

        devices = _devices(args.devices)
        if not devices:
            raise BuildToolsError("--devices: name at least one device")
        body = load_manifest(args.manifest)
        r = publish(self._endpoint(args), body, devices, wait=args.wait)
        data = {
            "deploymentId": r.deployment_id,
            "seconds": round(r.seconds, 4),
            "devices": r.devices,
        }
        lines = [
            f"deployment {r.deployment_id[:16]} to {len(devices)} device(s) in {r.seconds:.3f} s"
        ]
        for dev, st in sorted(r.devices.items()):
            lines.append(
                f"  {dev}: {st['reconcileStatus']}"
                + (f" ({st['failure']})" if "failure" in st else "")
            )
        _emit(args, data, "\n".join(lines))
        return 0 if r.ok or not args.wait else 1

    def _status(self, args: argparse.Namespace) -> int:
        from ..fleet.operator import reported

        data = reported(self._endpoint(args), _devices(args.devices) or None)
        lines = []
        for dev, rep in sorted(data.items()):
            st = rep.get("deploymentStatus", {})
            agent = rep.get("agent", {})
            lines.append(
                f"{dev}: {'online' if rep.get('online') else 'offline'}, deployment "
                f"{(st.get('deploymentId') or '-')[:16]} {st.get('reconcileStatus', '-')}, "
                f"agent {agent.get('version', '?')} release {(agent.get('release') or '-')[:12]}"
            )
        _emit(args, data, "\n".join(lines) or "no device has reported")
        return 0

    def _logs(self, args: argparse.Namespace) -> int:
        from ..fleet.operator import device_logs

        lines = device_logs(self._endpoint(args), args.device)
        _emit(
            args,
            {"device": args.device, "lines": lines},
            "\n".join(lines) or f"{args.device}: no log",
        )
        return 0

    def _call(self, args: argparse.Namespace) -> int:
        from ..fleet.operator import command

        r = command(self._endpoint(args), args.device, args.instance, args.export, list(args.args))
        resp = r.get("response", {})
        _emit(
            args,
            r,
            str(resp.get("value")) if r.get("status") == "ok" else f"error: {resp.get('message')}",
        )
        return 0 if r.get("status") == "ok" else 1
