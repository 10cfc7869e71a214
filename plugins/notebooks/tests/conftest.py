"""The fixtures of the core's tests that drive real runs through the `polyaxon` executable."""

from tests.conftest import polyaxon_home  # noqa: F401 - a fixture `home` needs
from tests.orchestrator.conftest import cli, home  # noqa: F401 - fixtures
