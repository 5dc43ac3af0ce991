"""Device-under-test adapters behind one interface (`base.Dut`), chosen by transport."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

# Adapter modules; each calls base.register_device on import. Missing ones are skipped so that
# adapters can land independently.
ADAPTER_MODULES = ("host", "posix", "qemu", "serial", "ssh")


def load_adapters() -> None:
    for name in ADAPTER_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            log.debug("device adapter %s not present", name)
