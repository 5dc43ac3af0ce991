"""NN backends of the Python host, by name. Each is imported lazily: a missing optional package
only matters when that backend is asked for."""

from __future__ import annotations

import importlib
import logging

from .base import Backend, BackendError

log = logging.getLogger(__name__)

# name -> (module, class). "builtin" is the project's own int8 backend (TFLM-exact numerics).
BACKENDS: dict[str, tuple[str, str]] = {
    "litert": ("litert", "LiteRTBackend"),
    "tflite-runtime": ("tflite_runtime", "TfliteRuntimeBackend"),
    "tflm": ("tflm", "TFLMBackend"),
    "builtin": ("builtin", "BuiltinBackend"),
}

# Tried in order, for models the chosen backend cannot run, when no backend was asked for.
FALLBACKS = ("tflm", "builtin")


def get_backend(name: str) -> Backend:
    """Returns a ready backend; raises BackendError("unsupported_operation", ...) saying why not."""
    spec = BACKENDS.get(name)
    if spec is None:
        raise BackendError(
            "unsupported_operation",
            f"unknown NN backend {name!r} (known: {', '.join(BACKENDS)})",
        )
    module_name, class_name = spec
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ImportError as e:
        raise BackendError(
            "unsupported_operation", f"backend {name}: not available in this checkout ({e})"
        ) from e
    cls = getattr(module, class_name, None)
    if cls is None:
        raise BackendError("unsupported_operation", f"backend {name}: {class_name} not found")
    backend: Backend = cls()
    return backend


def availability() -> dict[str, str | None]:
    """Backend name -> None when usable here, else the reason it is not."""
    out: dict[str, str | None] = {}
    for name in BACKENDS:
        try:
            get_backend(name)
            out[name] = None
        except BackendError as e:
            out[name] = str(e)
    return out
