"""A run's initializers (``run.init``), resolved into :class:`~polyaxon_core.entities.InitStep`
for its scheduler: templates rendered, connections looked up in the catalog, and every
place a step reads or writes checked to be the run's own.

Where each step writes, unless it gives ``path``:

* ``git``: ``<run folder>/<repository name>`` (the last part of its URL, without ``.git``);
* ``file``: ``<run folder>/<filename>`` (``file`` when it gives none);
* ``dockerfile``: ``<run folder>/<filename>`` (``Dockerfile`` when it gives none);
* ``paths`` / ``artifacts``: each source's path under the run folder;
* ``container``: nothing of its own; it runs in the run folder (or its ``workingDir``).

The run folder is the run's working directory by default, so ``command: [python,
repo/train.py]`` finds what a ``git`` step cloned. A ``path`` is relative to the run
folder; an absolute one must lie in the run folder or the run's artifacts folder: a run
writes nowhere else on this machine.

``paths`` and ``artifacts`` read from the artifacts store, where each run's files are
under its uuid (``<uuid>/outputs/model.pt``): only the runs of the same project; or,
with a ``connection``, from that connection's folder (``host_path``, ``volume_claim``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from polyaxon_core.entities import ConnectionEntity, ContainerSpec, InitStep

#: connection kinds a ``paths`` / ``artifacts`` step can read from, besides the store
FOLDER_KINDS = {"host_path": "hostPath", "volume_claim": "mountPath"}


class InitializerError(ValueError):
    """An initializer that cannot run as written (the message says why and what to do)."""


def repository_name(url: str) -> str:
    """``https://host/org/repo.git`` -> ``repo`` (also ``git@host:org/repo``, a folder)."""
    last = url.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
    name = last[:-4] if last.endswith(".git") else last
    if name in {"", ".", ".."}:
        raise InitializerError(f"the git URL {url!r} names no repository; give the initializer a `path`")
    return name


def _destination(given: Any, default: str, run_path: Path, artifacts: Path, where: str) -> Path:
    target = Path(str(given)) if given else Path(default)
    target = Path(posixpath.normpath(str(run_path / target)))
    if not (target.is_relative_to(run_path) or target.is_relative_to(artifacts)):
        raise InitializerError(
            f"{where}: `path: {given}` leads out of the run's folders; give a path relative to "
            f"the run's folder ({run_path}) or one under its artifacts folder ({artifacts})")
    return target


def _sources(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(source, target)`` pairs of a ``paths`` list or an ``artifacts`` mapping."""
    if entry.get("paths") is not None:
        written = entry["paths"]
        items = [written] if isinstance(written, str) else list(written)
    else:
        artifacts = entry.get("artifacts") or {}
        items = [*(artifacts.get("files") or []), *(artifacts.get("dirs") or [])]
    pairs = []
    for item in items:
        source, target = (item, item) if isinstance(item, str) else (item[0], item[-1])
        pairs.append((str(source), str(target)))
    return pairs


def _confined(path: str, what: str, where: str) -> str:
    """``path`` as a clean relative path; refuses one that climbs out (``..``, absolute)."""
    text = path.strip()
    clean = posixpath.normpath(text) if text else ""
    if not text or text.startswith("/") or clean in {".", ".."} or clean.startswith("../"):
        raise InitializerError(
            f"{where}: the {what} {path!r} is not a path inside; give a relative path such as "
            "<run uuid>/outputs/model.pt")
    return clean


def dockerfile_text(value: Mapping[str, Any]) -> str:
    """The Dockerfile a ``dockerfile`` initializer (Polyaxon's ``V1DockerfileType``)
    describes: what the initializer writes, and what a ``build`` builds."""
    lines = [f"FROM {value['image']}", ""]
    if value.get("langEnv"):
        lang = value["langEnv"]
        lines.append(f"ENV LC_ALL={lang} LANG={lang} LANGUAGE={lang}")
    env = value.get("env") or {}
    for name, setting in (env.items() if isinstance(env, Mapping) else env):
        lines.append(f'ENV {name}="{setting}"')
    if value.get("path"):
        lines.append(f'ENV PATH="{":".join(value["path"])}:$PATH"')
    if value.get("shell"):
        lines.append(f'SHELL ["{value["shell"]}", "-c"]')
    if value.get("username") or value.get("uid"):
        user, uid, gid = value.get("username") or "polyaxon", value.get("uid"), value.get("gid")
        group_option = f" -g {gid}" if gid is not None else ""
        lines.append(f"RUN groupadd{group_option} {user} && useradd -m"
                     f"{f' -u {uid}' if uid is not None else ''} -g {user} {user}")
    workdir = value.get("workdir") or "/code"
    lines.append(f"WORKDIR {workdir}")
    for key in ("copy", "run", "postRunCopy"):
        for item in value.get(key) or []:
            if key == "run":
                lines.append(f"RUN {item}")
            else:
                source, target = (item, workdir) if isinstance(item, str) else (item[0], item[-1])
                lines.append(f"COPY {source} {target}")
    if value.get("username") or value.get("uid"):
        lines.append(f"USER {value.get('username') or 'polyaxon'}")
    return "\n".join(lines) + "\n"


def plan(
    init: Sequence[Mapping[str, Any]],
    run_path: Path,
    artifacts: Path,
    connection: Callable[[str], ConnectionEntity],
    is_project_run: Callable[[str], bool],
    runs_of: Callable[[str], list[tuple[str, str | None]]] | None = None,
) -> tuple[InitStep, ...]:
    """The steps of the rendered ``init`` section (:meth:`OperationSpec.render_init`).

    ``connection(name)`` looks a connection up in the catalog; ``is_project_run(uuid)``
    says whether a run of the store belongs to the run's project; ``runs_of(uuid)`` gives
    the runs a uuid of the project stands for, with their names (a sweep's trials, a
    DAG's operations; a run itself), for a ``tensorboard`` initializer. Raises
    :class:`InitializerError` naming the initializer and the problem.
    """
    steps = []
    for index, entry in enumerate(init):
        where = f"initializer {index + 1} of run.init"
        named = connection(str(entry["connection"])) if entry.get("connection") else None
        if entry.get("git") is not None or (named is not None and named.kind == "git"
                                            and not _kind_given(entry)):
            steps.append(_git(entry, named, run_path, artifacts, where))
        elif entry.get("file") is not None:
            value = dict(entry["file"])
            name = _confined(str(value.get("filename") or "file"), "filename", where)
            folder = _destination(entry.get("path"), ".", run_path, artifacts, where)
            steps.append(InitStep("file", str(folder / name), value))
        elif entry.get("dockerfile") is not None:
            value = dict(entry["dockerfile"])
            name = _confined(str(value.get("filename") or "Dockerfile"), "filename", where)
            folder = _destination(entry.get("path"), ".", run_path, artifacts, where)
            steps.append(InitStep("dockerfile", str(folder / name), value))
        elif entry.get("paths") is not None or entry.get("artifacts") is not None:
            steps.append(_paths(entry, named, run_path, artifacts, is_project_run, where))
        elif entry.get("tensorboard") is not None:
            if runs_of is None:
                raise InitializerError(f"{where}: a tensorboard initializer gathers event files "
                                       "for a TensorBoard; it has no place here")
            steps.append(_tensorboard(entry, run_path, artifacts, runs_of, where))
        elif isinstance(entry.get("container"), ContainerSpec):
            steps.append(InitStep("container", str(run_path), connection=named,
                                  container=entry["container"]))
        else:
            raise InitializerError(f"{where} does nothing here: give it git, file, dockerfile, "
                                   "paths, artifacts or a container")
    return tuple(steps)


def _kind_given(entry: Mapping[str, Any]) -> bool:
    return any(entry.get(key) is not None
               for key in ("file", "dockerfile", "paths", "artifacts", "container"))


def _git(entry: Mapping[str, Any], named: ConnectionEntity | None, run_path: Path,
         artifacts: Path, where: str) -> InitStep:
    if named is not None and named.kind != "git":
        raise InitializerError(f"{where}: the connection `{named.name}` is a `{named.kind}` "
                               "connection; a git initializer takes a `git` connection")
    value = {**(dict(named.schema) if named is not None else {}), **dict(entry.get("git") or {})}
    url = str(value.get("url") or "")
    if not url:
        raise InitializerError(f"{where}: no repository to clone; give `git.url` or a git "
                               "connection with a `url`")
    value["url"] = url
    flags = value.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(flag, str) and flag.startswith("-")
                                              for flag in flags):
        raise InitializerError(f"{where}: `git.flags` must be a list of options such as "
                               f"[--depth=1]; got {flags!r}")
    if str(value.get("revision") or "").startswith("-"):
        raise InitializerError(f"{where}: the revision {value['revision']!r} is not a commit, "
                               "a branch or a tag")
    destination = _destination(entry.get("path"), repository_name(url), run_path, artifacts, where)
    return InitStep("git", str(destination), value, connection=named)


def _paths(entry: Mapping[str, Any], named: ConnectionEntity | None, run_path: Path,
           artifacts: Path, is_project_run: Callable[[str], bool], where: str) -> InitStep:
    pairs = _sources(entry)
    if not pairs:
        raise InitializerError(f"{where} names nothing to copy: list files or folders")
    if named is not None and named.kind not in FOLDER_KINDS:
        raise InitializerError(
            f"{where}: copying from the `{named.kind}` connection `{named.name}` is not "
            "supported on this scheduler; name a host_path or volume_claim connection, or "
            "leave `connection` out to copy from the artifacts store")
    folder = _destination(entry.get("path"), ".", run_path, artifacts, where)
    sources = []
    for source, target in pairs:
        clean = _confined(source, "source", where)
        if named is None:
            uuid = clean.split("/", 1)[0]
            if not is_project_run(uuid):
                raise InitializerError(
                    f"{where}: {source!r} is not in the artifacts of a run of this project; "
                    "a path of the store starts with the uuid of a run of the same project")
        sources.append((clean, str(folder / _confined(target, "target", where))))
    return InitStep("paths", str(folder), {"root": _root(named)}, tuple(sources), connection=named)


def _tensorboard(entry: Mapping[str, Any], run_path: Path, artifacts: Path,
                 runs_of: Callable[[str], list[tuple[str, str | None]]], where: str) -> InitStep:
    """The event files (each run's ``tensorboard`` folder of artifacts, written by
    ``tracking.init(tensorboard=True)``) of ``tensorboard.uuids`` (a list, or comma
    separated; a sweep or a DAG stands for its runs), one folder per run under ``path``
    (default ``tensorboard``), named by uuid or, with ``useNames``, by run name."""
    value = entry["tensorboard"] if isinstance(entry["tensorboard"], Mapping) else {}
    written = value.get("uuids") or []
    uuids = [item.strip() for item in (written.split(",") if isinstance(written, str) else written)
             if str(item).strip()]
    if not uuids:
        raise InitializerError(f"{where}: `tensorboard.uuids` names no run; give the uuids of "
                               "runs, of a sweep or of a DAG")
    runs: dict[str, str | None] = {}
    for uuid in uuids:
        found = runs_of(str(uuid))
        if not found:
            raise InitializerError(f"{where}: {uuid} is not a run of this project")
        runs.update(found)
    folder = _destination(entry.get("path"), "tensorboard", run_path, artifacts, where)
    names: dict[str, str] = {}
    for uuid, name in runs.items():
        label = name if value.get("useNames") and name else uuid
        # two runs of one name each keep a folder of their own
        names[uuid] = f"{label}-{uuid[:8]}" if label in names.values() else label
    sources = tuple((f"{uuid}/tensorboard", str(folder / _confined(label, "run name", where)))
                    for uuid, label in names.items())
    return InitStep("paths", str(folder), {"root": None, "missing_ok": True}, sources)


def _root(named: ConnectionEntity | None) -> str | None:
    """The folder a connection's paths are relative to (``None``: the artifacts store)."""
    return None if named is None else str(named.schema[FOLDER_KINDS[named.kind]])
