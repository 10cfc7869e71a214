"""CI: a project linked to a real git repository (a local one) runs its polyaxonfile at
each new commit of the watched branch, by polling and through a signed webhook; a bad
signature gets 401 and creates nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Deployment

from .conftest import FILES, Cli, run_state

WEBHOOK_SECRET = "push-secret"


class Repository:
    """A git repository in a folder, with a polyaxonfile running the DAG tests' step."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.git("init", "--quiet", "--initial-branch=main")
        (folder / "step.py").write_text((FILES / "dag" / "step.py").read_text())
        self.commit(1)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.org", *args],
                              cwd=self.folder, check=True, capture_output=True, text=True).stdout

    def commit(self, v: int, branch: str = "main") -> str:
        if branch != "main":
            self.git("checkout", "--quiet", "-B", branch)
        default = "{name: v, type: int, value: 0, isOptional: true}"
        text = (FILES / "dag" / "step.yaml").read_text().replace(default, default.replace("0", str(v)))
        (self.folder / "polyaxonfile.yaml").write_text(text)
        self.git("add", ".")
        self.git("commit", "--quiet", "-m", f"v={v}")
        sha = self.git("rev-parse", "HEAD").strip()
        if branch != "main":
            self.git("checkout", "--quiet", "main")
        return sha


def catalog(home: Path, repository: Repository) -> None:
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "code", "kind": "git", "schema": {"url": str(repository.folder)},
         "secret": {"name": "code-hook"}}]}))


def until(predicate: Callable[[], Any], timeout: float = 90) -> Any:
    """Poll ``predicate`` (a read of what the orchestrator does) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling another process's work, bounded by the deadline
    raise AssertionError(f"timed out waiting for {predicate}")


def listed(cli: Cli) -> list[dict[str, Any]]:
    return list(json.loads(cli("ops", "ls", "-q", "tags:ci", "-o", "json").stdout)["results"])


def test_each_new_commit_of_the_branch_runs_the_polyaxonfile_at_that_commit(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_CI_INTERVAL", "0.3")
    repository = Repository(tmp_path / "repo")
    catalog(home, repository)
    first = repository.git("rev-parse", "HEAD").strip()

    shown = json.loads(cli("project", "ci", "enable", "--connection", "code", "-o", "json").stdout)
    assert (shown["enabled"], shown["branch"], shown["polyaxonfile"]) == (True, "main", "polyaxonfile.yaml")

    def succeeded(count: int) -> list[dict[str, Any]] | None:
        runs = listed(cli)
        done = len(runs) >= count and all(run["status"] == "succeeded" for run in runs)
        return runs if done else None

    def runs_of(count: int) -> list[dict[str, Any]]:
        return list(until(lambda: succeeded(count)))

    [run] = runs_of(1)
    assert run["meta_info"]["code_ref"] == {"commit": first, "branch": "main",
                                            "repository": str(repository.folder)}
    assert run_state(run["uuid"])["outputs"] == {"out": 2}

    repository.commit(7, branch="experiment")  # another branch: nothing runs
    second = repository.commit(41)
    runs = runs_of(2)
    assert [r["meta_info"]["code_ref"]["commit"] for r in runs] == [second, first]
    assert run_state(runs[0]["uuid"])["outputs"] == {"out": 42}
    status = json.loads(cli("project", "ci", "status", "-o", "json").stdout)
    assert (status["last_commit"], status["last_error"]) == (second, None)
    assert len(listed(cli)) == 2

    cli("project", "ci", "disable")
    assert json.loads(cli("project", "ci", "status", "-o", "json").stdout)["enabled"] is False


def test_enabling_ci_with_a_connection_that_is_not_git_is_refused(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "bucket", "kind": "s3", "schema": {"bucket": "s3://data"}}]}))

    result = cli("project", "ci", "enable", "--connection", "bucket", check=False)

    assert result.returncode == 1
    assert ("connection 'bucket' is a 's3' connection; CI needs a `git` connection whose "
            "schema has the repository's url") in result.stderr
    assert json.loads(cli("project", "ci", "status", "-o", "json").stdout)["enabled"] is False


# -- the webhook, through a server -----------------------------------------------------------

@pytest.fixture
def ci_server(tmp_path: Path) -> Iterator[tuple[Deployment, Repository]]:
    repository = Repository(tmp_path / "repo")
    setup = Deployment(tmp_path, None, server_env={
        "POLYAXON_SECRET_CODE_HOOK__WEBHOOK_SECRET": WEBHOOK_SECRET,
        "POLYAXON_CI_INTERVAL": "3600"})
    catalog(setup.server_home, repository)
    setup.create_user("ada", "owner")
    setup.server.start()
    setup.login("ada")
    setup.cli("project", "create", "hooked")
    yield setup, repository
    setup.stop()


def post(url: str, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_signed_webhook_runs_the_new_commit_and_a_bad_signature_gets_401(
    ci_server: tuple[Deployment, Repository]
) -> None:
    deployment, repository = ci_server
    deployment.cli("project", "ci", "enable", "hooked", "--connection", "code")
    client = deployment.client()

    def ci_runs() -> list[dict[str, Any]]:
        return list(client.list_runs("hooked", query="tags:ci")["results"])

    [first] = until(ci_runs)

    pushed = repository.commit(5)
    url = f"{deployment.url}/api/v1/default/hooked/ci/webhook"
    body = json.dumps({"ref": "refs/heads/main", "after": pushed}).encode()
    forged = "sha256=" + hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()
    assert post(url, body, forged) == 401
    assert post(url, body, None) == 401
    assert [run["uuid"] for run in ci_runs()] == [first["uuid"]]

    signed = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert post(url, body, signed) == 202
    newest = until(lambda: len(ci_runs()) == 2 and ci_runs())[0]
    assert newest["meta_info"]["code_ref"]["commit"] == pushed
    assert "tags" in newest and "ci" in newest["tags"]
