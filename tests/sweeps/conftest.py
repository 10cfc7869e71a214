"""The sweep tests drive real sweeps through the `polyaxon` executable, like tests/orchestrator."""

from tests.orchestrator.conftest import cli, home  # noqa: F401 - fixtures re-exported
