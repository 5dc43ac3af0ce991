"""Subcommands: one module each, each a `Command` subclass registered in COMMANDS."""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod


class Command(ABC):
    name: str
    help: str

    @abstractmethod
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Returns the process exit code; raises BuildToolsError for user-facing failures."""


def all_commands() -> list[Command]:
    # Imported here so that `--help` stays cheap and import cycles cannot form.
    from . import build, clean, doctor, targets

    return [
        targets.TargetsCommand(),
        build.BuildCommand(),
        clean.CleanCommand(),
        doctor.DoctorCommand(),
    ]
