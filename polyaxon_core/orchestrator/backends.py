"""Check the configured backends before anything is queued for them.

A scheduler or store name that no installed plugin provides, or that differs from the
backends of the orchestrator already serving the home, would otherwise be noticed only
by the orchestrator, in its log, after the run was reported queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from polyaxon_core.config import ConfigurationError, Settings
from polyaxon_core.orchestrator.embedded import OrchestratorLock

if TYPE_CHECKING:
    from polyaxon_core.interfaces import Scheduler
    from polyaxon_core.plugins import PluginManager
    from polyaxon_core.spec import OperationSpec

#: plugin kind -> the setting that names it
BACKEND_SETTINGS = {"scheduler": "POLYAXON_SCHEDULER", "store": "POLYAXON_STORE"}


def check_backends(settings: Settings, manager: PluginManager | None = None) -> None:
    """Raise ConfigurationError, listing the installed ones, when ``settings`` name a
    scheduler or a store no installed plugin provides."""
    if manager is None:
        from polyaxon_core.plugins import get_plugin_manager

        manager = get_plugin_manager()
    for kind, variable in BACKEND_SETTINGS.items():
        name = getattr(settings, kind)
        installed = manager.contributions(kind)
        if name in installed:
            continue
        broken = [info.name for info in manager.broken if info.name.startswith(f"{kind}-")]
        hint = (f" (broken plugins: {', '.join(broken)}; see `polyaxon plugins check`)"
                if broken else "")
        if kind == "store" and settings.artifacts_store.startswith(f"{name}://"):
            raise ConfigurationError(
                f"POLYAXON_ARTIFACTS_STORE={settings.artifacts_store!r}: no installed store "
                f"handles {name}://; installed: {', '.join(sorted(installed)) or 'none'}{hint}. "
                f"Use one of their schemes (a plain path for the local store), or install "
                f"the plugin that provides {name!r}.")
        raise ConfigurationError(
            f"{variable}={name!r}: no installed {kind} has that name; installed: "
            f"{', '.join(sorted(installed)) or 'none'}{hint}. Set {variable} to one of them "
            f"or install the plugin that provides {name!r}."
        )


class Vouched(NamedTuple):
    """What the orchestrator serving a home found of the installed plugins."""

    #: its scheduler's class
    scheduler: type[Scheduler]
    #: the event hooks some plugin implements (:func:`~polyaxon_core.events.listened_events`)
    listeners: str


def check_submission_backends(settings: Settings) -> Vouched | None:
    """Refuse (ConfigurationError) work for a scheduler or store that is not installed, or
    that the running orchestrator does not use; what the orchestrator serving
    ``settings.home`` found of the installed plugins, when it vouches for them.

    That orchestrator runs with these very backends and the same plugins turned off, so
    what it found of the installed plugins holds here: the backends are not looked for
    again, its scheduler's class, which checks what is submitted
    (:func:`scheduler_problems`), is imported by the path it published, and the event
    hooks it found implemented are those the submission's changes are heard by
    (:func:`~polyaxon_core.events.listeners_declared`). A command that submits to a
    running orchestrator imports that one plugin, not every installed one. Without one
    (or when what it published cannot be used here), every plugin is discovered
    (:func:`check_backends`), and None is returned."""
    from polyaxon_core.interfaces import Scheduler
    from polyaxon_core.interfaces.base import class_at

    # the backends it uses are these, or check_running_orchestrator refused already
    status = check_running_orchestrator(settings)
    recorded, listeners = status.get("scheduler_class"), status.get("listeners")
    if (isinstance(recorded, str) and isinstance(listeners, str)
            and status.get("disabled_plugins") == sorted(settings.disabled_plugins)):
        try:
            found: type | None = class_at(recorded)
        except Exception:  # uninstalled since, or broken here: discovered as without one
            found = None
        if found is not None and issubclass(found, Scheduler):
            return Vouched(found, listeners)
    check_backends(settings)
    return None


def check_running_orchestrator(settings: Settings) -> dict[str, object]:
    """Raise ConfigurationError when the orchestrator serving ``settings.home`` uses other
    backends than ``settings``: it would run what is submitted with its own, so the
    setting would be silently ignored. What that orchestrator published (empty when
    none serves the home, see :meth:`OrchestratorLock.holder_status`)."""
    lock = OrchestratorLock(settings)
    if not lock.is_held():
        return {}
    status = lock.holder_status()
    for kind, variable in BACKEND_SETTINGS.items():
        wanted, used = getattr(settings, kind), status.get(kind)
        if used and used != wanted:
            pid = status.get("pid")
            raise ConfigurationError(
                f"{variable}={wanted!r}, but the orchestrator already serving {settings.home} "
                f"(pid {pid}) uses the {kind} {used!r} and would run this with it. Stop it "
                f"(`kill {pid}`; an on-demand one also exits after POLYAXON_IDLE_EXIT seconds "
                f"idle) and submit again, or set {variable}={used}."
            )
    return status


def scheduler_problems(scheduler: str | type[Scheduler], spec: OperationSpec) -> list[tuple[str, str]]:
    """What the scheduler named ``scheduler`` (or that class) cannot start in ``spec`` (its
    run, and each operation of a DAG), and what no builder could build
    (:func:`build_problems`): ``(field path, message)`` pairs; none for an unknown
    scheduler (:func:`check_backends` reports that)."""
    from polyaxon_core.plugins import UnknownPluginError, get_plugin_manager

    if isinstance(scheduler, str):
        try:
            found: type[Scheduler] = get_plugin_manager().get("scheduler", scheduler)
        except UnknownPluginError:
            return []
    else:
        found = scheduler
    run = spec.run
    if spec.build and isinstance(run.get("container"), dict) and not run["container"].get("image"):
        # the container runs the image its build makes
        run = {**run, "container": {**run["container"], "image": "<built by build>"}}
    problems = [(path, f"{message} (POLYAXON_SCHEDULER={found.name})")
                for path, message in found.check_run(run)]
    problems += build_problems(spec)
    for operation in spec.dag_operations:
        problems += [(f"operation `{operation.name}`: {path}", message)
                     for path, message in scheduler_problems(found, operation)]
    return problems


def build_problems(spec: OperationSpec) -> list[tuple[str, str]]:
    """What stops ``spec``'s ``build`` section from making an image: a builder no plugin
    provides, a context without exactly one Dockerfile, a container in it."""
    from polyaxon_core.orchestrator.builds import builder_name
    from polyaxon_core.plugins import get_plugin_manager

    if not spec.build:
        return []
    problems = []
    name = builder_name(spec.build)
    installed = get_plugin_manager().contributions("builder")
    if name not in installed:
        problems.append(("build.hubRef", f"`{spec.build.get('hubRef')}` names no installed builder "
                         f"(installed: {', '.join(sorted(installed)) or 'none'}); use one of them, "
                         "or install the plugin that provides it"))
    init = (spec.build.get("runPatch") or {}).get("init") or []
    dockerfiles = sum(1 for entry in init if entry.get("dockerfile") is not None)
    if dockerfiles != 1:
        problems.append(("build.runPatch.init", f"{dockerfiles} dockerfile initializers; give exactly "
                         "one (`- dockerfile: {image: ..., run: [...]}`): the Dockerfile to build"))
    problems += [(f"build.runPatch.init[{index}].container", "a build's context comes from "
                  "dockerfile, git, file and paths initializers; move the container into run.init")
                 for index, entry in enumerate(init) if entry.get("container") is not None]
    return problems
