"""Concurrent first use: many clients at once in a brand-new home or database.

Sixteen clients that each create a project and submit a run, all at the same time and
before any database exists, must all succeed: the schema is created once, the default
queue once, and one orchestrator is started for the burst.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from polyaxon_core.db.models import Queue, Run
from polyaxon_core.db.session import get_engine, session_scope
from tests.conftest import PG_SERVER_URL
from tests.orchestrator.conftest import FILES, POLYAXON, wait_final

CLIENTS = 16


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A PostgreSQL database that exists but was never migrated."""
    name = f"polyaxon_first_use_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _first_use(home: Path, env: dict[str, str], db_url: str) -> None:
    assert not (home / "polyaxon.db").exists()

    def client(index: int) -> subprocess.CompletedProcess[str]:
        script = (f"{POLYAXON} project create p{index} && "
                  f"{POLYAXON} run -p p{index} -f {FILES / 'task.yaml'} -P x={index} -o json")
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env,
                              timeout=300)

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client, range(CLIENTS)))
    failures = [f"exit {r.returncode}: {r.stderr.strip()}" for r in results if r.returncode]
    assert failures == []
    with session_scope(db_url) as session:
        runs = list(session.scalars(select(Run.uuid)))
        assert len(runs) == CLIENTS
        assert session.scalar(select(func.count(Queue.id))) == 1
    for run in runs:
        assert wait_final(run)["status"] == "succeeded"
    spawned = (home / "logs" / "orchestrator.log").read_text().count("starting an orchestrator")
    assert spawned == 1


@pytest.mark.slow
def test_sixteen_clients_at_once_in_a_new_home(home: Path) -> None:
    _first_use(home, os.environ.copy(), f"sqlite:///{home / 'polyaxon.db'}")


@pytest.mark.slow
@pytest.mark.postgres
def test_sixteen_clients_at_once_on_a_new_postgres_database(
    home: Path, fresh_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_DB_URL", fresh_postgres)
    _first_use(home, os.environ.copy(), fresh_postgres)
