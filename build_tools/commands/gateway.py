"""`gateway TARGET --config agent.toml [--port URL]`: put an MCU (serial board, qemu-rv32,
posix) on the fleet as a device (build_tools.fleet.gateway)."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from . import Command
from .run import add_runtime_selection, selected_target


class GatewayCommand(Command):
    name = "gateway"
    help = "serve an MCU target to the fleet over MQTT (deployments, commands, telemetry)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", help="a C-runtime target (esp32*, qemu-rv32, posix)")
        parser.add_argument(
            "--config", type=Path, required=True, help="agent config (broker, TLS files, state_dir)"
        )
        parser.add_argument("--port", help="serial transport: device path or pyserial URL")
        add_runtime_selection(parser)

    def run(self, args: argparse.Namespace) -> int:
        from edge_runtime.fleet.agent import Agent, AgentConfig

        from ..devices.base import open_device
        from ..fleet.gateway import DeviceSlot, DutExecutor

        target = selected_target(args)
        options = {"port": args.port} if args.port else {}
        cfg = AgentConfig.load(args.config)
        with open_device(target, options) as dut:
            slot = DeviceSlot(dut)
            agent = Agent(cfg, executor_factory=lambda _settings, events: DutExecutor(slot, events))
            done = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: done.set())
            agent.start()
            try:
                done.wait()
            except KeyboardInterrupt:
                pass
            finally:
                agent.stop()
        return 0
