"""Subcommands: one module each, each defining one `Command` subclass (found automatically)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from abc import ABC, abstractmethod


class Command(ABC):
    name: str
    help: str
    # Whether the command takes arguments after `--` (cli.run hands them over as
    # `args.passthrough`; None when there was no `--`).
    takes_passthrough = False

    @abstractmethod
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Returns the process exit code; raises BuildToolsError for user-facing failures."""


def all_commands() -> list[Command]:
    """Every Command subclass defined in a module of this package, sorted by name.

    Adding a subcommand is adding a module: no central list to edit.
    """
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    found = [
        cls() for cls in Command.__subclasses__() if not getattr(cls, "__abstractmethods__", None)
    ]
    return sorted(found, key=lambda c: c.name)
