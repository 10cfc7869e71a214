"""Optional dependencies of the optimizers: checked when a sweep is built, imported late.

Every ``polyaxon`` command imports the plugin modules to build its registry, so a module
of this package never imports numpy, scipy or hyperopt at the top. An optimizer checks
that its extra is installed when it is built (``polyaxon run`` builds it, so a missing
extra is reported before any trial exists) and imports it only to compute suggestions.
"""

from __future__ import annotations

import importlib.util

from polyaxon_core.interfaces import PluginConfigError


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # sys.modules[module] is None: imports of it are blocked
        return False


def require(kind: str, extra: str, *modules: str) -> None:
    """Raise PluginConfigError with the install command unless every module is importable."""
    missing = [module for module in modules if not _installed(module)]
    if missing:
        raise PluginConfigError(
            f"matrix kind '{kind}' needs {' and '.join(missing)}: "
            f"pip install 'polyaxon-optimizers[{extra}]'"
        )
