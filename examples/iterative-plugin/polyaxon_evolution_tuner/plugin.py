"""The module the ``optimizer-evolution`` entry point names: it contributes the tuner."""

from __future__ import annotations

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer
from polyaxon_evolution_tuner.tuner import EvolutionTuner


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [EvolutionTuner]
