"""The `serial` transport: a C runtime on a board (or anything pyserial can open) reached
through options["port"]; see devices/qemu.py, which shares the implementation."""

from __future__ import annotations

from .base import register_device
from .qemu import SerialDut

register_device("serial", SerialDut)

__all__ = ["SerialDut"]
