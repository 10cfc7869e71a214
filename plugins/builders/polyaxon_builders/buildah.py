"""``builder-buildah``: builds a run's image on this machine with buildah.

The build is a process of its own (``python -m polyaxon_builders.buildah FOLDER``),
started in a session of its own so that it outlives an orchestrator restarted meanwhile:
in the build's folder it makes the context (the build's initializers, run by the same
code as a run's), writes the Dockerfile, runs ``buildah build`` with chroot isolation
(no daemon, no root needed where the user has subordinate ids), pushes to the registry
connection when there is one, and writes ``result.json``. Its output is ``build.log``
beside it; a failed build's last lines are the run's status message.

Configuration (environment of the orchestrator):

* ``POLYAXON_BUILDAH``: the buildah program (default: ``buildah`` on the ``PATH``);
* ``POLYAXON_BUILDAH_STORAGE_DRIVER``: ``overlay``, ``vfs``... (default: buildah's own;
  ``vfs`` where overlay mounts are not allowed, as in most containers);
* ``POLYAXON_BUILDAH_ROOT``: the image storage folder (default: buildah's own), its
  run state under ``<root>/run``.

A registry connection (``kind: registry``, ``url``, ``insecure``) is pushed to with the
credentials of its secret when the secret has a ``mountPath`` and holds ``config.json``
or ``.dockerconfigjson`` (a Docker configuration file); without a secret, anonymously.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyaxon_builders.images import pinned
from polyaxon_core.connections.exposure import expose
from polyaxon_core.connections.secrets import env_name
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces.builder import Builder, BuildRequest, BuildState

#: how many of the build log's last lines a failure reports
TAIL_LINES = 20
RESULT, LOG, PLAN = "result.json", "build.log", "build.json"
#: the build context, beside the build's own files (never sent to the builder with it)
CONTEXT = "context"
#: what a registry secret's Docker configuration file may be called
AUTH_FILES = ("config.json", ".dockerconfigjson")


def buildah_command() -> list[str]:
    """``buildah`` with the storage options the environment gives."""
    command = [os.environ.get("POLYAXON_BUILDAH", "").strip() or "buildah"]
    driver = os.environ.get("POLYAXON_BUILDAH_STORAGE_DRIVER", "").strip()
    if driver:
        command += ["--storage-driver", driver]
    root = os.environ.get("POLYAXON_BUILDAH_ROOT", "").strip()
    if root:
        command += ["--root", root, "--runroot", str(Path(root) / "run")]
    return command


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no build log)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of ``/proc/<pid>/stat``): the same
    pid and start time is the same process, not a later one given its number."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


class BuildahBuilder(Builder):
    name = "buildah"
    description = "Builds on this machine with buildah (chroot isolation), pushes to a registry connection."

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, request: BuildRequest) -> Mapping[str, Any]:
        program = buildah_command()[0]
        if shutil.which(program) is None:
            raise ValueError(f"buildah is not installed here ({program!r} not found): install it "
                             "(`apt-get install buildah`), set POLYAXON_BUILDAH to it, or use "
                             "another builder in build.hubRef")
        folder = Path(request.folder)
        if folder.exists():  # an earlier attempt's context and result
            shutil.rmtree(folder)
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the run's folder
        folder.mkdir(mode=0o700)
        (folder / CONTEXT).mkdir()
        plan = {
            "destination": request.destination,
            "dockerfile": request.dockerfile,
            "dockerfile_path": request.dockerfile_path,
            "steps": [{"kind": step.kind, "destination": step.destination, "value": dict(step.value),
                       "sources": [list(pair) for pair in step.sources],
                       "connection": step.connection.name if step.connection else None}
                      for step in request.steps],
            "push": request.connection is not None,
            "insecure": bool(request.connection.schema.get("insecure")) if request.connection else False,
        }
        (folder / PLAN).write_text(json.dumps(plan))
        # secrets resolved here, at the edge: each step gets its own connection only
        environments = {
            str(index): expose([step.connection], folder / f".init-{index + 1}")
            for index, step in enumerate(request.steps) if step.connection is not None
        }
        if request.connection is not None:
            environments["push"] = expose([request.connection], folder / ".registry")
        (folder / ".environments.json").write_text(json.dumps(environments))
        os.chmod(folder / ".environments.json", 0o600)
        with open(folder / LOG, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "polyaxon_builders.buildah", str(folder)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=str(folder), start_new_session=True)
        self._children[process.pid] = process
        return {"folder": str(folder), "pid": process.pid, "started": _process_start(process.pid)}

    def poll(self, handle: Mapping[str, Any]) -> BuildState:
        folder = Path(str(handle["folder"]))
        pid = int(handle["pid"])
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:  # reaped: no zombie left
            del self._children[pid]
        result = folder / RESULT
        if result.exists():
            outcome = json.loads(result.read_text())
            if outcome["status"] == "succeeded":
                return BuildState("succeeded", image=str(outcome["image"]))
            return BuildState("failed", message=f"{outcome['message']}; the build log ends with:\n"
                                                f"{log_tail(folder / LOG)}")
        if (child is not None and child.returncode is None) or (
                child is None and _process_start(pid) == handle.get("started") is not None):
            return BuildState("running")
        return BuildState("failed", message="the build process ended without a result; the build "
                                            f"log ends with:\n{log_tail(folder / LOG)}")


def _authfile(environment: Mapping[str, str], connection: str) -> str | None:
    secret = environment.get(f"POLYAXON_CONNECTION_{env_name(connection)}_SECRET_PATH")
    for name in AUTH_FILES:
        if secret and (Path(secret) / name).is_file():
            return str(Path(secret) / name)
    return None


def _run(command: Sequence[str], environment: Mapping[str, str] | None = None) -> int:
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(list(command), env=dict(environment or os.environ), check=False).returncode


def build(folder: Path) -> dict[str, Any]:
    """Do the build planned in ``folder``; what happened, as ``result.json`` records it."""
    from polyaxon_schedulers.initializers import StepFailed, describe, run_step

    plan = json.loads((folder / PLAN).read_text())
    environments = json.loads((folder / ".environments.json").read_text())
    try:
        for index, step in enumerate(plan["steps"]):
            print(describe(step), flush=True)
            environment = {**os.environ, **environments.get(str(index), {})}
            print(run_step(step, environment, None, lambda argv, options: subprocess.run(
                list(argv), check=False, **options).returncode), flush=True)
    except StepFailed as exc:
        return {"status": "failed", "message": f"making the build context failed: {exc}"}
    dockerfile = Path(plan["dockerfile_path"])
    dockerfile.parent.mkdir(parents=True, exist_ok=True)
    dockerfile.write_text(plan["dockerfile"])
    destination = plan["destination"]
    code = _run([*buildah_command(), "build", "--isolation", "chroot", "--layers", "-f",
                 str(dockerfile), "-t", destination, str(folder / CONTEXT)])
    if code != 0:
        return {"status": "failed", "message": f"buildah build exited with {code}"}
    if plan["push"]:
        environment = {**os.environ, **environments.get("push", {})}
        registry = json.loads(environment["POLYAXON_CONNECTIONS"])[0]["name"]
        options = ["--tls-verify=false"] if plan["insecure"] else []
        authfile = _authfile(environment, registry)
        if authfile:
            options += ["--authfile", authfile]
        digest = folder / "digest"
        code = _run([*buildah_command(), "push", *options, "--digestfile", str(digest),
                     destination, f"docker://{destination}"], environment)
        if code != 0:
            return {"status": "failed", "message": f"buildah push to {destination} exited with {code}"}
        return {"status": "succeeded", "image": pinned(destination, digest.read_text().strip())}
    return {"status": "succeeded", "image": destination}


def main(argv: Sequence[str]) -> int:
    """``python -m polyaxon_builders.buildah FOLDER``: the build process."""
    if len(argv) != 1:
        print("usage: python -m polyaxon_builders.buildah BUILD_FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    try:
        outcome = build(folder)
    except Exception as exc:  # noqa: BLE001 — recorded as the build's failure, never lost
        outcome = {"status": "failed", "message": f"the build stopped: {type(exc).__name__}: {exc}"}
    finally:
        for secrets in folder.glob(".init-*"):
            shutil.rmtree(secrets, ignore_errors=True)
        shutil.rmtree(folder / ".registry", ignore_errors=True)
        (folder / ".environments.json").unlink(missing_ok=True)
    print(f"build {outcome['status']}: {outcome.get('image') or outcome.get('message')}", flush=True)
    partial = folder / (RESULT + ".partial")
    partial.write_text(json.dumps(outcome))
    partial.replace(folder / RESULT)
    return 0 if outcome["status"] == "succeeded" else 1


@hookimpl
def polyaxon_register_builders() -> list[type[Builder]]:
    return [BuildahBuilder]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
