"""`polyaxon ops ls`: the query language, sorting, pagination and errors, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from polyaxon_core.config import load_settings
from polyaxon_core.db.models import Run, utcnow
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project

POLYAXON = str(Path(sys.executable).parent / "polyaxon")


def polyaxon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, *args], capture_output=True, text=True, env=os.environ.copy(),
                          timeout=120)


@pytest.fixture
def runs(polyaxon_home: Path) -> dict[str, str]:
    url = load_settings().db_url
    migrate(url)
    uuids: dict[str, str] = {}
    with session_scope(url) as session:
        project = create_project(session, "p")
        other = create_project(session, "other")
        for name, status, loss, tags in [("a", "succeeded", 0.05, ["best"]),
                                         ("b", "succeeded", 0.3, []),
                                         ("c", "failed", 0.9, ["best"]),
                                         ("d", "running", None, [])]:
            run = Run(project=project, name=name, kind="job", runtime="job", status=status,
                      tags=tags, last_metrics={} if loss is None else {"loss": loss})
            session.add(run)
            session.flush()
            uuids[name] = run.uuid
        session.add(Run(project=other, name="elsewhere", kind="job", runtime="job"))
        session.add(Run(project=project, name="shelved", kind="job", runtime="job",
                        status="succeeded", archived_at=utcnow()))
    return uuids


def _names(*args: str) -> list[str]:
    result = polyaxon("ops", "ls", "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return [row["name"] for row in json.loads(result.stdout)["results"]]


def test_query_and_sort(runs: dict[str, str]) -> None:
    assert _names("-p", "p", "-q", "metrics.loss:<0.5", "-s", "metrics.loss") == ["a", "b"]
    assert _names("-p", "p", "-q", "status:succeeded|failed, tags:best", "-s", "-name") == ["c", "a"]
    assert _names("-p", "p", "-q", "metrics.loss:nil") == ["d"]


def test_limit_offset_and_count(runs: dict[str, str]) -> None:
    result = json.loads(polyaxon("ops", "ls", "-p", "p", "-s", "name", "-l", "2", "--offset", "1",
                                 "-o", "json").stdout)
    assert result["count"] == 4
    assert [row["name"] for row in result["results"]] == ["b", "c"]


def test_without_a_project_every_project_is_listed(runs: dict[str, str]) -> None:
    assert sorted(_names()) == ["a", "b", "c", "d", "elsewhere"]


def test_a_malformed_query_points_at_the_token(runs: dict[str, str]) -> None:
    result = polyaxon("ops", "ls", "-p", "p", "-q", "status:succeeded, colour:red")
    assert result.returncode == 1
    assert "colour" in result.stderr and "^" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_sort_field_is_an_error(runs: dict[str, str]) -> None:
    result = polyaxon("ops", "ls", "-p", "p", "-s", "-flavour")
    assert result.returncode == 1 and "flavour" in result.stderr


def test_the_table_shows_the_sorted_metric(runs: dict[str, str]) -> None:
    result = polyaxon("ops", "ls", "-p", "p", "-s", "metrics.loss")
    assert result.returncode == 0
    assert "loss" in result.stdout and "0.05" in result.stdout


def test_archived_runs_are_listed_only_on_request(runs: dict[str, str]) -> None:
    assert "shelved" not in _names("-p", "p")
    assert _names("-p", "p", "--archived") == ["shelved"]


def test_the_uuids_the_table_shows_work_in_queries(runs: dict[str, str]) -> None:
    url = load_settings().db_url
    with session_scope(url) as session:
        sweep = session.scalars(select(Run).where(Run.uuid == runs["a"])).one()
        session.add(Run(project=sweep.project, name="trial", kind="job", runtime="job",
                        pipeline=sweep))
    table = polyaxon("ops", "ls", "-p", "p").stdout
    shown = runs["a"][:12]
    assert shown in table
    assert _names("-p", "p", "-q", f"pipeline:{shown}") == ["trial"]
    assert _names("-p", "p", "-q", f"uuid:{shown}") == ["a"]


def test_an_ambiguous_uuid_prefix_in_a_query_is_an_error_listing_the_runs(
    runs: dict[str, str]
) -> None:
    url = load_settings().db_url
    with session_scope(url) as session:
        project = session.scalars(select(Run).where(Run.uuid == runs["a"])).one().project
        for twin in ("1", "2"):
            session.add(Run(project=project, name=f"twin-{twin}", kind="job", runtime="job",
                            uuid="0123abcd" + twin * 24))
    result = polyaxon("ops", "ls", "-p", "p", "-q", "uuid:0123abcd")
    assert result.returncode == 1
    assert "0123abcd" + "1" * 24 in result.stderr and "0123abcd" + "2" * 24 in result.stderr
    assert "Traceback" not in result.stderr
    assert _names("-p", "p", "-q", "uuid:0123abcd2") == ["twin-2"]


def test_archive_hides_a_finished_run_until_restore_brings_it_back(runs: dict[str, str]) -> None:
    archived = polyaxon("ops", "archive", runs["a"][:12], "-p", "p")
    assert archived.returncode == 0, archived.stderr
    assert f"Run {runs['a'][:12]} archived" in archived.stdout
    assert "a" not in _names("-p", "p")
    assert _names("-p", "p", "--archived", "-s", "name") == ["a", "shelved"]
    restored = polyaxon("ops", "restore", runs["a"][:12], "-p", "p")
    assert restored.returncode == 0 and f"Run {runs['a'][:12]} restored." in restored.stdout
    assert "a" in _names("-p", "p") and _names("-p", "p", "--archived") == ["shelved"]


def test_an_unfinished_run_cannot_be_archived_and_a_live_one_needs_no_restore(
    runs: dict[str, str]
) -> None:
    running = polyaxon("ops", "archive", runs["d"], "-p", "p")
    assert running.returncode == 1 and "stop it before archiving it" in running.stderr
    assert "Traceback" not in running.stderr
    assert "d" in _names("-p", "p")
    live = polyaxon("ops", "restore", runs["b"], "-p", "p")
    assert live.returncode == 0 and "is not archived; nothing to restore" in live.stdout
