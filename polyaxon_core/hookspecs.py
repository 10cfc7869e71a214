"""Every hook a plugin can implement, in one module.

A plugin is a module (or object) registered under the entry-point group
``polyaxon.plugins`` with a name of the form ``<kind>-<backend>`` (``scheduler-local``,
``optimizer-grid``). It implements any of the hooks below, decorated with
``polyaxon_core.hookimpl``. The families:

* **contribution** hooks return classes; the core picks one *by name* from configuration.
* **event** hooks are broadcast to every plugin after something happened to a run.
* **app extension** hooks are called once with an object to extend (the CLI group, the
  API blueprint, the web app's AppBuilder).
* **auth** hooks are ``firstresult``: the first plugin that answers decides. The core's
  own answers are ``trylast`` so that a third-party plugin wins.

Every hook below has a docstring saying when it is called, what its arguments are and
what it returns; ``tests/test_hookspecs.py`` fails when one does not, or when no test
calls it.
"""

# Specs are signatures with docstrings; the bodies are empty by design.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from polyaxon_core.entities import RunEntity
    from polyaxon_core.interfaces import (
        ArtifactStore,
        Builder,
        ComponentHub,
        Notifier,
        Optimizer,
        Scheduler,
        WorkspaceService,
    )

PROJECT_NAME = "polyaxon"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------- contribution


@hookspec
def polyaxon_register_schedulers() -> list[type[Scheduler]]:
    """Contribute scheduler classes (subclasses of ``interfaces.Scheduler``).

    Called when the plugin manager builds its registry, once per process.
    Takes no arguments. Returns a list of classes; each class's ``name`` attribute is the
    name users select with ``POLYAXON_SCHEDULER`` (``local``, ``celery``, ...).
    """


@hookspec
def polyaxon_register_builders() -> list[type[Builder]]:
    """Contribute image builder classes (subclasses of ``interfaces.Builder``).

    Called when the registry is built. Takes no arguments. Returns a list of classes
    whose ``name`` is what an operation's ``build.hubRef`` names (``buildah``,
    ``kaniko``; a ``:version`` after it is ignored).
    """


@hookspec
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    """Contribute search-algorithm classes (subclasses of ``interfaces.Optimizer``).

    Called when the registry is built. Takes no arguments. Returns a list of classes whose
    ``name`` is the ``matrix.kind`` they implement (``grid``, ``random``, ``hyperband``).
    """


@hookspec
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    """Contribute artifact-store classes (subclasses of ``interfaces.ArtifactStore``).

    Called when the registry is built. Takes no arguments. Returns a list of classes whose
    ``name`` users select with ``POLYAXON_STORE`` (``local``, ``s3``, ...).
    """


@hookspec
def polyaxon_register_services() -> list[type[WorkspaceService]]:
    """Contribute workspace services (subclasses of ``interfaces.WorkspaceService``).

    Called when the registry is built. Takes no arguments. Returns a list of classes whose
    ``name`` identifies the service (``jupyter``, ``tensorboard``, ...).
    """


@hookspec
def polyaxon_register_notifiers() -> list[type[Notifier]]:
    """Contribute notifier classes (subclasses of ``interfaces.Notifier``).

    Called when the registry is built. Takes no arguments. Returns a list of classes whose
    ``name`` is used by an operation's ``hooks`` section (``slack``, ``webhook``, ...).
    """


@hookspec
def polyaxon_register_hubs() -> list[type[ComponentHub]]:
    """Contribute component hub classes (subclasses of ``interfaces.ComponentHub``).

    Called when the registry is built. Takes no arguments. Returns a list of classes; each
    reads the hubs ``POLYAXON_HUBS`` lists whose location is of its ``location_kind``
    (a folder, a URL) or that name it (``polyaxon``, the components a distribution
    ships), and ``hubRef`` / ``polyaxon run --hub`` resolve through them in that order.
    """


# --------------------------------------------------------------------------------- events


@hookspec
def polyaxon_on_run_created(run: RunEntity) -> None:
    """A run was created and committed (``polyaxon run``, a sweep's child, a restart, a
    run tracked from a process of the user's).

    ``run`` is the new run, status ``created``. Called in the process that created it.
    The return value is ignored; an exception is logged and does not undo the creation.
    """


@hookspec
def polyaxon_on_run_status_changed(run: RunEntity, previous: str | None, status: str) -> None:
    """A run's status changed and the change was committed.

    ``run`` carries the new status; ``previous`` is the status it left (``None`` for the
    first one), ``status`` the one it entered. Called for every transition, by the process
    that applied it (usually the orchestrator). The return value is ignored.
    """


@hookspec
def polyaxon_on_run_metrics_logged(run: RunEntity, metrics: Mapping[str, float], step: int | None) -> None:
    """A batch of metrics of a run was committed.

    ``run`` is the run that logged them (its status as of the commit); ``metrics`` maps
    metric names to values logged at ``step`` (``None`` when the run did not give one).
    Called by the process that stored them (the tracking SDK in the run's own process on
    the embedded default). The return value is ignored.
    """


@hookspec
def polyaxon_on_run_done(run: RunEntity) -> None:
    """A run reached a final status (succeeded, failed, stopped, skipped, ...).

    Called once per final status, after ``polyaxon_on_run_status_changed``; ``run`` carries
    the final status and ``finished_at``. Notifiers hang off this hook. Return value ignored.
    """


# -------------------------------------------------------------------------- app extension


@hookspec
def polyaxon_register_commands(cli: click.Group) -> None:
    """Add commands to the ``polyaxon`` command line.

    Called once when the CLI needs a command it does not define itself (the core's own
    commands are resolved first, so ``polyaxon --help`` of the core stays fast). ``cli`` is
    the root ``click.Group``; add commands with ``cli.add_command``. Returns nothing.
    """


@hookspec
def polyaxon_register_api(blueprint: Any) -> None:
    """Add routes to the JSON REST API.

    Called once when the API application is created, after the core's own routes. ``blueprint``
    is the ``flask.Blueprint`` mounted at ``/api/v1``. Returns nothing.
    """


@hookspec(firstresult=True)
def polyaxon_register_webapp(app: Any) -> bool | None:
    """Serve a web UI from the server's application.

    Called once when the server's application is created, after the API's routes.
    ``app`` is the ``flask.Flask`` application; a plugin that serves pages on it (the
    ``polyaxon-webapp`` distribution does, at ``/``) returns True, and no other plugin is
    asked. The core imports no UI: without such a plugin the server serves the API only.
    """


@hookspec
def polyaxon_register_views(appbuilder: Any) -> None:
    """Add views and menu entries to the web UI.

    Called once when the web app is created, after the core views. ``appbuilder`` is the
    Flask-AppBuilder ``AppBuilder``; call ``appbuilder.add_view`` and friends. Returns nothing.
    """


# ----------------------------------------------------------------------------------- auth


@hookspec(firstresult=True)
def polyaxon_authenticate(request: Any) -> Any | None:
    """Identify who sent an API request.

    Called for every API request before authorization. ``request`` is the incoming
    ``flask.Request``. Return the authenticated user (any object with a ``username``) or
    ``None`` to let the next plugin decide; the first non-``None`` answer wins. Raise
    ``polyaxon_core.interfaces.AuthenticationFailed`` to reject the request outright.
    """


@hookspec(firstresult=True)
def polyaxon_authorize(user: Any, action: str, resource: Mapping[str, Any]) -> bool | None:
    """Decide whether ``user`` may perform ``action`` on ``resource``.

    Called for every API endpoint after authentication. ``action`` is a permission name
    (``project.read``, ``run.create``, ...); ``resource`` describes the target
    (``{"kind": "project", "owner": ..., "name": ...}``). Return ``True`` to allow,
    ``False`` to deny, ``None`` to let the next plugin decide; the first non-``None``
    answer wins.
    """
