"""The suite as one call: build the target's guests, open its device, run the cases."""

from __future__ import annotations

from typing import Any

from ..devices.base import open_device
from ..guests import build_guests
from ..targets import Target
from .cases import load_cases
from .runner import Runner, SuiteResult


def target_guests(target: Target) -> dict[str, bytes]:
    built = build_guests(target)
    return {g.name: (built.directory / g.path).read_bytes() for g in built.guests}


def run_suite(
    target: Target, pattern: str | None = None, options: dict[str, Any] | None = None
) -> SuiteResult:
    guests = target_guests(target)
    with open_device(target, options) as dut:
        return Runner(dut, guests).run(load_cases(), pattern)
