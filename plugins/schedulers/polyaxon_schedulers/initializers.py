"""A run's initializers on the local scheduler: run by the run's runner, in order, before
its command, each step's output in the run's log.

The steps are :class:`~polyaxon_core.entities.InitStep` as the scheduler recorded them in
``launch.json`` (no secret: a step's connection reaches it through its environment, sent
through the supervisor's pipe like the command's). ``git`` and ``container`` steps are
processes (``git clone``, the container's command); ``file``, ``dockerfile`` and
``paths`` are written by the runner itself. A step that fails ends the attempt with its
message; the command does not start.

Git credentials: a git connection's secret reaches ``git`` as variables (or files, with a
``mountPath``); ``POLYAXON_GIT_CREDENTIALS`` (``user:token``, a variable or a file of
the mounted secret) answers an HTTPS
repository's login through a credential helper, so the token is never written into the
clone's ``.git/config`` or the log; git's own variables (``GIT_SSH_COMMAND``...) work as
usual. ``git`` never prompts (``GIT_TERMINAL_PROMPT=0``): a refused login fails the step.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from polyaxon_core.orchestrator.initializers import dockerfile_text

#: answers git's ``get`` with the user and password of ``POLYAXON_GIT_CREDENTIALS``
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'printf "username=%s\\npassword=%s\\n" '
    '"${POLYAXON_GIT_CREDENTIALS%%:*}" "${POLYAXON_GIT_CREDENTIALS#*:}"; }; f'
)


class StepFailed(Exception):
    """An initializer that could not do its work (the message says what and why)."""


def git_commands(step: Mapping[str, Any], environment: Mapping[str, str]) -> list[list[str]]:
    """The ``git`` commands of a git step: the clone, then the checkout of its revision."""
    value = step["value"]
    given = environment.get("POLYAXON_GIT_CREDENTIALS") or _mounted_credentials(environment)
    config = ["-c", f"credential.helper={CREDENTIAL_HELPER}"] if given else []
    commands = [["git", *config, "clone", *value.get("flags", []), "--", value["url"],
                 step["destination"]]]
    if value.get("revision"):
        commands.append(["git", "-C", step["destination"], "checkout", "--quiet",
                         "--detach", str(value["revision"])])
    return commands


def _mounted_credentials(environment: Mapping[str, str]) -> dict[str, str]:
    """``POLYAXON_GIT_CREDENTIALS`` of a secret given as files (it has a ``mountPath``)."""
    if environment.get("POLYAXON_GIT_CREDENTIALS"):
        return {}
    for name, folder in environment.items():
        if name.startswith("POLYAXON_CONNECTION_") and name.endswith("_SECRET_PATH"):
            file = Path(folder) / "POLYAXON_GIT_CREDENTIALS"
            if file.is_file():
                return {"POLYAXON_GIT_CREDENTIALS": file.read_text().strip()}
    return {}


def _mode(chmod: str, current: int) -> int:
    """A ``chmod`` of a file initializer: octal (``755``, ``0o755``) or ``+x``."""
    text = chmod.strip()
    if text in {"+x", "a+x"}:
        return current | 0o111
    try:
        return int(text.removeprefix("0o"), 8)
    except ValueError:
        raise StepFailed(f"`chmod: {chmod}` is not a mode; give an octal mode such as 755, "
                         "or +x") from None


def write_file(step: Mapping[str, Any], content: str) -> None:
    path = Path(step["destination"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    chmod = step["value"].get("chmod")
    if chmod:
        path.chmod(_mode(str(chmod), path.stat().st_mode & 0o777))


def copy_paths(step: Mapping[str, Any], store: Any) -> int:
    """Copy a ``paths`` step's sources (from the store, or the connection's folder); how
    many files."""
    root = step["value"].get("root")
    copied = 0
    missing = []
    for source, target in step["sources"]:
        try:
            copied += _copy_folder_path(Path(root), source, Path(target)) if root else \
                _copy_store_path(store, source, Path(target))
        except StepFailed:
            if not step["value"].get("missing_ok"):
                raise
            missing.append(source)  # a run that wrote no event files: left out
    if missing and len(missing) == len(step["sources"]):
        raise StepFailed(f"none of {', '.join(missing)} exists: the runs wrote no TensorBoard "
                         "event files (log with tracking.init(tensorboard=True))")
    return copied


def _copy_folder_path(root: Path, source: str, target: Path) -> int:
    found = (root / source).resolve()
    if not found.is_relative_to(root.resolve()):
        raise StepFailed(f"{source!r} leads out of {root} (a symbolic link); it is not copied")
    if found.is_dir():
        shutil.copytree(found, target, symlinks=True, dirs_exist_ok=True)
        return sum(len(files) for _, _, files in os.walk(target))
    if not found.is_file():
        raise StepFailed(f"{source!r} is not in {root}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(found, target)  # its mode too, as a folder's files keep theirs
    return 1


def _copy_store_path(store: Any, source: str, target: Path) -> int:
    uuid, _, path = source.partition("/")
    if path:
        try:
            with store.open(uuid, path) as stream:
                _write_stream(stream, target)
            return 1
        except (FileNotFoundError, IsADirectoryError):
            pass  # a folder, or nothing: walked below
    files = list(store.walk(uuid, path))
    if not files:
        raise StepFailed(f"{source!r} is not in the artifacts store")
    for info in files:
        with store.open(uuid, info.path) as stream:
            _write_stream(stream, target / info.path[len(path):].lstrip("/"))
    return len(files)


def _write_stream(stream: Any, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)


def describe(step: Mapping[str, Any]) -> str:
    """One line for the log: what the step does."""
    kind = step["kind"]
    if kind == "git":
        revision = step["value"].get("revision")
        at = f" at {revision}" if revision else ""
        return f"git: cloning {step['value']['url']}{at} into {step['destination']}"
    if kind in {"file", "dockerfile"}:
        return f"{kind}: writing {step['destination']}"
    if kind == "paths":
        origin = step["value"].get("root") or "the artifacts store"
        return f"paths: copying {len(step['sources'])} path(s) from {origin} into {step['destination']}"
    return f"container: running {' '.join(step['command'])}"


def run_step(step: Mapping[str, Any], environment: Mapping[str, str], store: Any,
             start: Callable[[Sequence[str], Mapping[str, Any]], int]) -> str:
    """Do one step; what it did, for the log. ``start(argv, popen_options)`` runs a
    process to its end (its output into the run's log) and gives its exit code. Raises
    :class:`StepFailed`."""
    kind = step["kind"]
    if kind == "git":
        git_environment = {**environment, "GIT_TERMINAL_PROMPT": "0", **_mounted_credentials(environment)}
        Path(step["destination"]).parent.mkdir(parents=True, exist_ok=True)
        for command in git_commands(step, environment):
            code = start(command, {"env": git_environment, "cwd": str(Path(step["destination"]).parent)})
            if code != 0:
                what = "clone" if "clone" in command else "checkout"
                raise StepFailed(f"git {what} exited with {code}; its output is in the log above")
        return "cloned"
    if kind == "file":
        write_file(step, str(step["value"]["content"]))
        return "written"
    if kind == "dockerfile":
        write_file(step, dockerfile_text(step["value"]))
        return "written"
    if kind == "paths":
        return f"{copy_paths(step, store)} file(s) copied"
    Path(step["working_dir"]).mkdir(parents=True, exist_ok=True)
    code = start([*step["command"]], {"env": dict(environment), "cwd": step["working_dir"]})
    if code != 0:
        raise StepFailed(f"the container's command exited with {code}")
    return "done"


def main(argv: Sequence[str]) -> int:
    """``python -m polyaxon_schedulers.initializers STEP``: run one step described as JSON
    (a record as the local scheduler writes them) in this process's environment, its
    output on stdout: what an init container on Kubernetes runs. The store, for a
    ``paths`` step from the artifacts store, is the one this environment configures."""
    import json
    import subprocess
    import sys

    if len(argv) != 1:
        print("usage: python -m polyaxon_schedulers.initializers STEP_JSON", file=sys.stderr)
        return 2
    step = json.loads(argv[0])
    store = None
    if step["kind"] == "paths" and not step["value"].get("root"):
        from polyaxon_core.config import load_settings
        from polyaxon_core.plugins import get_plugin_manager

        settings = load_settings()
        store = get_plugin_manager().get("store", settings.store)(settings)

    def start(command: Sequence[str], options: Mapping[str, Any]) -> int:
        return subprocess.run(list(command), check=False, **options).returncode

    print(describe(step), flush=True)
    try:
        print(run_step(step, dict(os.environ), store, start), flush=True)
    except StepFailed as exc:
        print(f"failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
