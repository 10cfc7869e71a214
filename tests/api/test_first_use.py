"""A burst of run creations on a server whose database has no queue yet."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from polyaxon_core.db.models import Queue
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project
from tests.api.servers import BIN, environment, serving, stop_orchestrator

SERVER_LISTENING = r"serving the API on (http://\S+)/api/v1"
JOB = (Path(__file__).parent / "files" / "job.yaml").read_text()


def test_sixteen_concurrent_run_creations_all_succeed_and_start_one_orchestrator(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    with session_scope(url) as session:
        create_project(session, "p")
    command = [str(BIN / "polyaxon"), "server", "--port", "0", "--no-auth"]
    try:
        with serving(command, environment(home), SERVER_LISTENING) as served, \
                ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(
                lambda _: served.request("POST", "/api/v1/default/p/runs", body={"content": JOB}),
                range(16)))
    finally:
        stop_orchestrator(home)
    assert [status for status, _ in answers] == [201] * 16, answers
    with session_scope(url) as session:
        assert session.scalar(select(func.count(Queue.id))) == 1
    spawned = (home / "logs" / "orchestrator.log").read_text().count("starting an orchestrator")
    assert spawned == 1
