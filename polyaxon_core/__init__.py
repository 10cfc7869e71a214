"""polyaxon-core: the plugin-driven core of the Polyaxon-style experiment platform.

The core defines what schedulers, builders, optimizers, artifact stores, workspace
services and notifiers are (``polyaxon_core.hookspecs`` and ``polyaxon_core.interfaces``)
and ships none of them: concrete backends are plugins discovered through the
``polyaxon.plugins`` entry-point group.
"""

__version__ = "0.1.0"
