"""Compile -> queue -> schedule -> reconcile; the matrix controller; the embedded launcher."""

from polyaxon_core.orchestrator.embedded import (
    OrchestratorLock,
    OrchestratorUnavailable,
    ensure_orchestrator,
    orchestrator_error,
)
from polyaxon_core.orchestrator.loop import Orchestrator

__all__ = ["Orchestrator", "OrchestratorLock", "OrchestratorUnavailable", "ensure_orchestrator",
           "orchestrator_error"]
