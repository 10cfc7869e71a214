"""Contract tests that any plugin author runs against their implementation.

Subclass the contract for your plugin kind in your own test module and provide the
fixtures it names; pytest collects the inherited tests::

    from polyaxon_core.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path): ...

Our own plugins pass the same contracts (see ``plugins/*/tests``).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "OptimizerContract": "polyaxon_core.testing.optimizer",
    "SchedulerContract": "polyaxon_core.testing.scheduler",
    "StoreContract": "polyaxon_core.testing.store",
    "install_distribution": "polyaxon_core.testing.distributions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
