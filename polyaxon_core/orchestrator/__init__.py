"""Compile -> queue -> schedule -> reconcile; the matrix controller; the embedded launcher."""

from polyaxon_core.orchestrator.embedded import OrchestratorLock, ensure_orchestrator
from polyaxon_core.orchestrator.loop import Orchestrator

__all__ = ["Orchestrator", "OrchestratorLock", "ensure_orchestrator"]
