"""App-extension hooks: a plugin extends the CLI, the REST API and the web UI."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click
import flask
from click.testing import CliRunner

from polyaxon_core.cli import cli
from polyaxon_core.plugins import PluginManager

MakeManager = Callable[..., PluginManager]
UseManager = Callable[[PluginManager], None]


def test_register_commands_adds_the_plugins_command_to_the_group(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("cli-sample", "commands")])
    group = click.Group("polyaxon")

    manager.hook.polyaxon_register_commands(cli=group)

    result = CliRunner().invoke(group, ["sample-hello", "--name", "Ada"])
    assert (result.exit_code, result.output) == (0, "hello, Ada\n")


def test_a_plugin_command_is_reachable_through_the_polyaxon_cli(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager([("cli-sample", "commands")]))

    result = CliRunner().invoke(cli, ["sample-hello", "--name", "Grace"])

    assert (result.exit_code, result.output) == (0, "hello, Grace\n")


def test_a_plugin_cannot_shadow_a_core_command(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager([("cli-sample", "commands")]))
    cli.add_command(click.Command("plugins", callback=lambda: click.echo("hijacked")))

    result = CliRunner().invoke(cli, ["plugins", "--help"])

    assert result.exit_code == 0
    assert "hijacked" not in result.output
    assert "List and check the installed plugins." in result.output


def test_register_api_adds_a_route_served_by_the_app(make_manager: MakeManager) -> None:
    manager = make_manager([("api-sample", "api")])
    blueprint = flask.Blueprint("api", __name__, url_prefix="/api/v1")

    manager.hook.polyaxon_register_api(blueprint=blueprint)
    app = flask.Flask(__name__)
    app.register_blueprint(blueprint)
    response = app.test_client().get("/api/v1/sample/ping")

    assert (response.status_code, response.get_json()) == (200, {"pong": True})


class AppBuilderStandIn:
    """Records ``add_view`` calls the way Flask-AppBuilder's ``AppBuilder`` receives them."""

    def __init__(self) -> None:
        self.views: list[tuple[Any, str, str | None]] = []

    def add_view(self, view: Any, name: str, category: str | None = None) -> None:
        self.views.append((view, name, category))


def test_register_views_adds_the_plugins_view_to_the_appbuilder(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("ui-sample", "views")])
    appbuilder = AppBuilderStandIn()

    manager.hook.polyaxon_register_views(appbuilder=appbuilder)

    view_class = sys.modules["polyaxon_sample_plugins.views"].SampleDashboardView
    assert appbuilder.views == [(view_class, "Sample dashboard", "Samples")]


def test_register_webapp_mounts_the_plugins_pages_beside_the_api(
    make_manager: MakeManager, polyaxon_settings: Any
) -> None:
    from polyaxon_core.api.app import create_app
    from polyaxon_core.api.extensions import EXTENSION_KEY

    manager = make_manager([("ui-sample-webapp", "webapp")])
    app = flask.Flask("bare")
    assert manager.hook.polyaxon_register_webapp(app=app) is True
    assert app.test_client().get("/").text == "a sample dashboard"

    served = create_app(polyaxon_settings, plugins=manager)
    client = served.test_client()
    # the page is the plugin's; the API around it still needs a login
    assert served.extensions[EXTENSION_KEY].page_endpoints == frozenset({"sample_home"})
    assert (client.get("/").status_code, client.get("/").text) == (200, "a sample dashboard")
    assert client.get("/api/v1/users").status_code == 401


def test_a_workspace_service_becomes_a_command_group_unless_its_name_is_taken(
    make_manager: MakeManager, use_manager: UseManager, caplog: Any, monkeypatch: Any
) -> None:
    use_manager(make_manager([("service-sketch", "workspaces:taken")]))
    # the CLI's entry point sends these warnings to stderr only, and `polyaxon plugins`
    # quiets them (it shows them itself): heard here whatever ran before in this process
    plugins_logger = logging.getLogger("polyaxon_core.plugins")
    monkeypatch.setattr(plugins_logger, "propagate", True)
    caplog.set_level(logging.WARNING, logger="polyaxon_core.plugins")

    group = CliRunner().invoke(cli, ["sketch", "--help"])
    start = CliRunner().invoke(cli, ["sketch", "start", "--help"])
    core_run = CliRunner().invoke(cli, ["run", "--help"])

    assert group.exit_code == 0, group.output
    assert "Sketchpads over a project's runs." in group.output
    assert "`acme/sketch:2.0`" in group.output
    assert [line.split()[0] for line in group.output.split("Commands:")[1].splitlines()
            if line.strip()] == ["ls", "start", "stop", "url"]
    assert start.exit_code == 0 and "--uuid UUID" in start.output and "--culling" in start.output
    assert "[default: acme/sketch:2.0]" in start.output
    assert "Validate a polyaxonfile, create a run" in core_run.output
    assert "workspace service 'run' is not a command: `polyaxon run` is taken" in caplog.text
