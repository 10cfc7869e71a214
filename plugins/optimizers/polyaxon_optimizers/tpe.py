"""The entry point ``optimizer-tpe``: registers :class:`~polyaxon_optimizers.hyperopt_search.TPEOptimizer`.

A module of its own because each entry point registers one plugin object, and
``optimizer-hyperopt`` already registers :mod:`polyaxon_optimizers.hyperopt_search`.
"""

from __future__ import annotations

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer
from polyaxon_optimizers.hyperopt_search import TPEOptimizer


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [TPEOptimizer]
