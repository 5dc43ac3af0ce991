"""Turns model bytes or names into backend graphs: backend choice, per-model fallback, caching.

Every model is verified completely (tflite_check.py) before any backend sees it: a damaged model
is `invalid_encoding`, never a crash of the host.

Fallback policy: when no backend was asked for and the default backend cannot load a model
(e.g. LiteRT 2.3.0 rejects person_detect's per-channel quantization), the loader tries
`FALLBACKS` in order and logs which one it used. An explicitly requested backend (`--backend`,
or `"backend"` in a load config) never falls back: it is `unsupported_operation` with the
backend's reason, which names the operator.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from .backends import FALLBACKS, get_backend
from .backends.base import Backend, BackendError, Graph
from .models import ModelRegistry
from .tflite_check import MalformedModel, verify_tflite

log = logging.getLogger(__name__)


class LoadFailure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class LoadedGraph:
    graph: Graph
    backend: str
    model: str  # name, or "sha256:<prefix>" for bytes from `load`


class GraphLoader:
    def __init__(
        self, registry: ModelRegistry, default_backend: str, explicit: bool = False
    ) -> None:
        """`explicit`: the backend was chosen by the user (`--backend`), so it never falls back."""
        self.registry = registry
        self.default_backend = default_backend
        self.explicit = explicit
        self._backends: dict[str, Backend | BackendError] = {}
        self._graphs: dict[tuple[str, str | None], LoadedGraph] = {}
        self.fallbacks: dict[str, str] = {}  # model -> "used X: Y failed: reason"

    def backend(self, name: str) -> Backend:
        cached = self._backends.get(name)
        if cached is None:
            try:
                cached = get_backend(name)
            except BackendError as e:
                cached = e
            self._backends[name] = cached
        if isinstance(cached, BackendError):
            raise cached
        return cached

    def load_named(self, name: str, backend: str | None) -> LoadedGraph:
        model = self.registry.get(name)
        if model is None:
            raise LoadFailure("not_found", f"no model named {name!r} in the registry")
        return self._load(model, name, backend)

    def load_bytes(self, model: bytes, backend: str | None) -> LoadedGraph:
        return self._load(model, f"sha256:{hashlib.sha256(model).hexdigest()[:12]}", backend)

    def _load(self, model: bytes, label: str, backend: str | None) -> LoadedGraph:
        key = (hashlib.sha256(model).hexdigest(), backend)
        cached = self._graphs.get(key)
        if cached is not None:
            return LoadedGraph(cached.graph, cached.backend, label)
        try:
            verify_tflite(model)  # before any backend: a damaged model must not reach TFLM
        except MalformedModel as e:
            raise LoadFailure("invalid_encoding", f"model {label}: not a TFLite model: {e}") from e
        if backend is not None:
            chain = [backend]
        elif self.explicit:
            chain = [self.default_backend]
        else:
            chain = [self.default_backend, *FALLBACKS]
        reasons: list[str] = []
        kinds: set[str] = set()
        for name in dict.fromkeys(chain):
            try:
                graph = self.backend(name).load(model)
            except BackendError as e:
                reasons.append(_short(str(e)))
                kinds.add(e.kind)
                continue
            except Exception as e:  # a backend's own reader refused bytes the check let through
                log.debug("model %s: backend %s", label, name, exc_info=True)
                raise LoadFailure(
                    "invalid_encoding",
                    f"model {label}: backend {name} cannot read it: {type(e).__name__}: {e}",
                ) from e
            if reasons:
                note = f"used {name}; " + "; ".join(reasons)
                self.fallbacks[label] = note
                log.warning("model %s: %s", label, note)
            loaded = LoadedGraph(graph, name, label)
            self._graphs[key] = loaded
            return loaded
        # A backend that finds the model damaged decides; else one kind shared by all, else
        # the model is beyond what these backends do.
        kind = "invalid_encoding" if "invalid_encoding" in kinds else "unsupported_operation"
        if len(kinds) == 1:
            kind = kinds.pop()
        raise LoadFailure(kind, f"model {label}: " + "; ".join(reasons))


def _short(reason: str, limit: int = 160) -> str:
    """Backends repeat one complaint per tensor: keep the first sentence."""
    first = reason.split(". ")[0]
    return first if len(first) <= limit else first[: limit - 3] + "..."
