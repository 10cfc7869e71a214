"""CI: a project linked to a git repository runs its polyaxonfile at each new commit.

``polyaxon project ci enable`` links a project to a ``git`` connection of the catalog (its
``url``: a URL git reaches, or a local path), a branch and the path of a polyaxonfile in
the repository. The orchestrator checks the branch every ``POLYAXON_CI_INTERVAL`` seconds,
or at once when the repository's webhook calls ``POST .../ci/webhook`` with a body signed
by the connection's secret ``webhook_secret`` (``X-Hub-Signature-256: sha256=<HMAC-SHA256
of the body>``, as GitHub and Gitea send it). A commit it has not run yet is checked out
(``$POLYAXON_HOME/ci/<project>/<commit>``) and its polyaxonfile submitted as a run tagged
``ci``, with the commit as the run's code reference (``meta_info.code_ref``); the
project's last commit moves with a compare-and-set, so a commit runs once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Project, ProjectCI, utcnow
from polyaxon_core.errors import InvalidRequest, NotFound, Unprocessable

SIGNATURE_HEADER = "X-Hub-Signature-256"
INTERVAL_VARIABLE = "POLYAXON_CI_INTERVAL"
DEFAULT_INTERVAL = 60.0
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,256}$")


class WebhookRefused(Exception):
    """A webhook call whose signature does not hold: answered 401, nothing created."""


def interval() -> float:
    from polyaxon_core.config import ConfigurationError

    raw = os.environ.get(INTERVAL_VARIABLE)
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        raise ConfigurationError(f"{INTERVAL_VARIABLE}={raw!r} is not a number of seconds; "
                                 f"unset it for {DEFAULT_INTERVAL:g}") from None
    if value <= 0:
        raise ConfigurationError(f"{INTERVAL_VARIABLE}={raw!r} must be > 0")
    return value


def find_ci(session: Session, project: Project) -> ProjectCI | None:
    return session.scalar(select(ProjectCI).where(ProjectCI.project_id == project.id))


def enable_ci(session: Session, project: Project, *, connection: str, branch: str,
              polyaxonfile: str) -> ProjectCI:
    """Link ``project`` to the git ``connection`` (checked now) and its ``branch``."""
    from polyaxon_core.connections import get_connection
    from polyaxon_core.connections.catalog import CatalogError, UnknownConnection

    try:
        entry = get_connection(connection)
    except (UnknownConnection, CatalogError) as exc:
        raise Unprocessable(str(exc)) from None
    if entry.kind != "git" or not entry.schema.get("url"):
        raise Unprocessable(f"connection {connection!r} is a {entry.kind!r} connection"
                             + (" without a url" if entry.kind == "git" else "")
                             + "; CI needs a `git` connection whose schema has the repository's url")
    if not _BRANCH.match(branch) or ".." in branch:
        raise InvalidRequest(f"{branch!r} is not a branch name; e.g. main or release/1.0")
    if Path(polyaxonfile).is_absolute() or ".." in Path(polyaxonfile).parts:
        raise InvalidRequest(f"{polyaxonfile!r} is not a path inside the repository; "
                             "e.g. polyaxonfile.yaml or ci/train.yaml")
    found = find_ci(session, project)
    if found is None:
        found = ProjectCI(project_id=project.id, connection=connection, branch=branch,
                          polyaxonfile=polyaxonfile)
        session.add(found)
    elif (found.connection, found.branch) != (connection, branch):
        found.last_commit = None
    found.connection, found.branch, found.polyaxonfile = connection, branch, polyaxonfile
    found.enabled, found.requested_at, found.last_error = True, utcnow(), None
    session.flush()
    return found


def disable_ci(session: Session, project: Project) -> ProjectCI:
    found = find_ci(session, project)
    if found is None:
        raise NotFound(f"project {project.owner}/{project.name} has no CI; "
                       "link it with `polyaxon project ci enable`")
    found.enabled = False
    return found


def ci_document(project: Project, ci: ProjectCI | None) -> dict[str, Any]:
    if ci is None:
        return {"project": project.name, "enabled": False, "connection": None, "branch": None,
                "polyaxonfile": None, "last_commit": None, "checked_at": None, "last_error": None}
    return {"project": project.name, "enabled": ci.enabled, "connection": ci.connection,
            "branch": ci.branch, "polyaxonfile": ci.polyaxonfile, "last_commit": ci.last_commit,
            "checked_at": ci.checked_at.isoformat() if ci.checked_at else None,
            "last_error": ci.last_error}


def receive_webhook(session: Session, project: Project, body: bytes, signature: str | None) -> None:
    """Ask for a check now, if ``signature`` is the HMAC of ``body`` with the connection's
    ``webhook_secret``; WebhookRefused otherwise (nothing changes)."""
    from polyaxon_core.connections import SecretError, get_connection, resolve_secret

    found = find_ci(session, project)
    if found is None or not found.enabled:
        raise NotFound(f"project {project.owner}/{project.name} has no CI enabled; nothing to "
                       "call (`polyaxon project ci enable` links it to a repository)")
    try:
        resolved = resolve_secret(get_connection(found.connection))
        secret = {key.lower(): value for key, value in resolved.items()}
    except (SecretError, LookupError) as exc:
        raise WebhookRefused(f"the webhook secret cannot be read: {exc}") from None
    if "webhook_secret" not in secret:
        raise WebhookRefused(f"connection {found.connection!r} has no webhook_secret in its secret")
    expected = "sha256=" + hmac.new(secret["webhook_secret"].reveal().encode(), body,
                                    hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected, signature.strip()):
        raise WebhookRefused(f"the {SIGNATURE_HEADER} signature does not match")
    found.requested_at = utcnow()


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git (no prompt, bounded); its output, or RuntimeError with its message."""
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=120, env=environment)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"git {args[0]} failed: {exc}") from None
    if result.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {result.stderr.strip()[:500]}")
    return result.stdout


def head_commit(url: str, branch: str) -> str:
    """The commit at the tip of ``branch`` of the repository at ``url``."""
    output = git("ls-remote", "--", url, f"refs/heads/{branch}")
    for line in output.splitlines():
        commit, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return commit
    raise RuntimeError(f"the repository has no branch {branch!r}")


def checkout(url: str, commit: str, folder: Path) -> Path:
    """The repository at ``commit`` in ``folder`` (made once per commit)."""
    if (folder / ".git").is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "--quiet", "--no-checkout", "--", url, str(partial))
    git("checkout", "--quiet", commit, cwd=partial)
    partial.rename(folder)
    return folder


def claim_commit(session: Session, ci_id: int, previous: str | None, commit: str) -> bool:
    """Move the project's last commit from ``previous`` (what the check read) to ``commit``;
    False when someone moved it meanwhile (the commit is theirs to run)."""
    moved = session.execute(
        update(ProjectCI).where(ProjectCI.id == ci_id, ProjectCI.last_commit.is_(None)
                                if previous is None else ProjectCI.last_commit == previous)
        .values(last_commit=commit).execution_options(synchronize_session=False))
    return getattr(moved, "rowcount", 0) == 1
