"""Compile -> queue -> schedule -> reconcile; the matrix controller; the embedded launcher.

The names below are loaded on first use, so that a module of this package (the
initializers' Dockerfile rendering, which a run's runner needs) can be imported without
the orchestrator and the database layer it brings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyaxon_core.orchestrator.embedded import (
        OrchestratorLock,
        OrchestratorUnavailable,
        ensure_orchestrator,
        orchestrator_error,
    )
    from polyaxon_core.orchestrator.loop import Orchestrator

_EXPORTS = {
    "Orchestrator": "polyaxon_core.orchestrator.loop",
    "OrchestratorLock": "polyaxon_core.orchestrator.embedded",
    "OrchestratorUnavailable": "polyaxon_core.orchestrator.embedded",
    "ensure_orchestrator": "polyaxon_core.orchestrator.embedded",
    "orchestrator_error": "polyaxon_core.orchestrator.embedded",
}

__all__ = ["Orchestrator", "OrchestratorLock", "OrchestratorUnavailable", "ensure_orchestrator",
           "orchestrator_error"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
