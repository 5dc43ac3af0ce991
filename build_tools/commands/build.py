"""`build TARGET`: build what the target runs (guest modules, firmware, the runtime wheel of a
deployable Pi target) and print the manifest."""

from __future__ import annotations

import argparse
import hashlib
import json

from .. import firmware, runtime_wheel
from ..errors import BuildToolsError
from ..guests import build_evp_modules, build_guests
from ..targets import Target
from . import Command
from .run import add_runtime_selection, selected_target


class BuildCommand(Command):
    name = "build"
    help = "build guest modules (and later runtimes/firmware) for a target"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--json", action="store_true", help="print the build manifest as JSON")
        add_runtime_selection(parser)
        parser.add_argument(
            "--evp",
            action="store_true",
            help="also build the EVP modules of guests/src/evp/ (downloadUrl + hash for a deployment)",
        )
        parser.add_argument(
            "--sanitize",
            action="store_true",
            help="C runtimes built with CMake: the AddressSanitizer + UBSan variant",
        )
        parser.add_argument(
            "--generate-only",
            action="store_true",
            help="write the firmware project (PlatformIO: platformio.ini, sdkconfig, partitions, "
            "components, images) and stop before the external build",
        )

    def run(self, args: argparse.Namespace) -> int:
        target = selected_target(args)
        result = build_guests(target)
        builder = firmware.builder_for(target)
        if args.generate_only:
            if builder is None:
                raise BuildToolsError(f"target {target.name}: runs no firmware of this project")
            summary = builder.generate(target, result)
            if not args.json:
                print(summary)
            else:
                print(json.dumps(result.manifest(), indent=2))
            return 0
        image = builder.build(target, result, sanitize=args.sanitize) if builder else None
        # What a device of a python-host target reached over SSH installs (`deploy` ships it).
        wheel = (
            runtime_wheel.build_for(target)
            if target.runtime.kind == "python-host" and target.connection.transport == "ssh"
            else None
        )
        evp = _evp_modules(target) if args.evp else {}
        if args.json:
            manifest = result.manifest()
            if args.evp:
                manifest["evp_modules"] = evp
            if wheel is not None:
                manifest["runtime_wheel"] = str(wheel)
            print(json.dumps(manifest, indent=2))
            return 0
        rebuilt = ", ".join(result.compiled) or "nothing (up to date)"
        print(f"{target.name}: guests in {result.directory} (rebuilt: {rebuilt})")
        for g in result.guests:
            print(f"  {g.name:<10} {g.size:>7} B  sha256 {g.sha256[:16]}  imports {len(g.imports)}")
        for name, m in evp.items():
            print(f"  evp module {name}: {m['downloadUrl']}  sha256 {m['hash']}")
        if wheel is not None:
            print(f"  runtime wheel {wheel}")
        if builder is not None and image is not None:
            print(builder.describe(image))
        return 0


def _evp_modules(target: Target) -> dict[str, dict[str, str]]:
    """name -> the manifest fields (moduleImpl, downloadUrl, hash) of each built EVP module."""
    return {
        name: {
            "moduleImpl": "wasm",
            "downloadUrl": path.resolve().as_uri(),
            "hash": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        for name, path in build_evp_modules(target).items()
    }
