"""Modules other packages import at start-up for what the local stack rarely or never asks,
loaded when first used instead.

``rfc3987_syntax`` builds three Earley parsers of RFC 3987's grammar when imported (seconds of
CPU); jsonschema imports it for its ``iri`` formats, and moto's CloudFormation imports jsonschema
(through API Gateway's OpenAPI validator), so every process that runs moto paid for it, about
half of the local stack's start. In its place stands a module that imports the real one the first
time anything of it is asked for, so a check of an IRI answers exactly as before.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

LAZY = "rfc3987_syntax"
_lock = threading.Lock()


def apply() -> None:
    """Idempotent; a no-op where the module is already imported or not installed."""
    with _lock:
        if LAZY in sys.modules:
            return
        spec = importlib.util.find_spec(LAZY)
        if spec is None:
            return
        sys.modules[LAZY] = _stand_in(LAZY, spec)


def _stand_in(name: str, spec: Any) -> types.ModuleType:
    stand_in = types.ModuleType(name)
    stand_in.__spec__ = spec

    def real() -> types.ModuleType:
        with _lock:
            module = sys.modules.get(name)
            if module is stand_in:
                del sys.modules[name]
                try:
                    module = importlib.import_module(name)
                except BaseException:
                    sys.modules[name] = stand_in
                    raise
        return module  # type: ignore[return-value]

    def is_valid_syntax(term: str, value: str) -> bool:
        return real().is_valid_syntax(term, value)

    def attribute(name: str) -> Any:
        if name.startswith("__"):  # the import system's questions (``__path__``, ...)
            raise AttributeError(name)
        return getattr(real(), name)

    # jsonschema takes the function when imported; anything else is looked up on first use.
    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    return stand_in
