"""PostgreSQL drivers: ``postgresql://`` is psycopg2 (the ``postgres`` extra), and
``postgresql+psycopg://`` keeps working with psycopg 3 (the ``psycopg`` extra)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from polyaxon_core.config import ConfigurationError
from polyaxon_core.db.models import Metric, Run
from polyaxon_core.db.session import create_db_engine, get_engine, is_current, migrate, session_scope
from polyaxon_core.domain.listing import get_run
from polyaxon_core.domain.projects import create_project, get_project
from tests.conftest import PG_SERVER_URL, end_backend


def _with_driver(url: str, driver: str) -> str:
    """``url`` with ``postgresql+DRIVER://``, or plain ``postgresql://`` for no driver."""
    scheme, rest = url.split("://", 1)
    dialect = scheme.split("+")[0]
    return f"{dialect}+{driver}://{rest}" if driver else f"{dialect}://{rest}"


@pytest.mark.parametrize(("driver", "dbapi"), [("", "psycopg2"), ("psycopg2", "psycopg2"),
                                              ("psycopg", "psycopg")])
def test_each_postgresql_url_picks_its_driver(driver: str, dbapi: str) -> None:
    assert create_db_engine(_with_driver(PG_SERVER_URL, driver)).dialect.driver == dbapi


def test_a_missing_driver_names_the_extra_to_install() -> None:
    with pytest.raises(ConfigurationError, match=r"no driver for 'postgresql\+nodriver'.*"
                                                 r"polyaxon-core\[postgres\]"):
        create_db_engine(_with_driver(PG_SERVER_URL, "nodriver"))


@pytest.fixture
def psycopg3_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, addressed with a psycopg 3 URL."""
    name = f"polyaxon_psycopg3_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_with_driver(PG_SERVER_URL, "psycopg2"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = _with_driver(PG_SERVER_URL, "psycopg").rsplit("/", 1)[0] + f"/{name}"
    yield url
    get_engine(url).dispose()
    get_engine(_with_driver(url, "")).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_psycopg3_urls_migrate_and_round_trip(psycopg3_database: str) -> None:
    migrate(psycopg3_database)
    assert get_engine(psycopg3_database).dialect.driver == "psycopg"
    with session_scope(psycopg3_database) as session:
        project = create_project(session, "drivers", description="psycopg 3", tags=["a"])
        run = Run(project=project, kind="job", runtime="job", inputs={"lr": 0.1})
        session.add(run)
        session.flush()
        session.add(Metric(run_id=run.id, name="loss", step=1, value=0.5))
        uuid_of_run = run.uuid
    # the same database through psycopg2 sees the schema and the rows
    assert is_current(_with_driver(psycopg3_database, ""))
    with session_scope(_with_driver(psycopg3_database, "")) as session:
        found = get_run(session, uuid_of_run, get_project(session, "drivers"))
        values = session.scalars(select(Metric.value).where(Metric.run_id == found.id)).all()
        assert found.inputs == {"lr": 0.1} and values == [0.5]


def _backend(engine: Engine) -> int:
    """The server process of the connection ``engine``'s pool hands out next."""
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_a_pooled_connection_the_server_ended_is_replaced_as_it_leaves_the_pool(
        postgres_database: str, driver: str) -> None:
    engine = create_db_engine(_with_driver(postgres_database, driver))
    try:
        first = _backend(engine)
        end_backend(postgres_database, first)
        assert _backend(engine) != first  # pinged, found ended, replaced: no error
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_where_only_idle_connections_are_pinged_the_statement_meets_an_ended_one_and_the_next_works(
        postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The orchestrator's way (``ping_only_idle_connections``): a connection used a moment
    ago leaves the pool unpinged; ended meanwhile, the statement fails as a lost
    connection (the pass is done again), and the pool hands out a new one after."""
    from sqlalchemy.exc import OperationalError

    from polyaxon_core.db import session as session_module

    monkeypatch.setattr(session_module, "_UNPINGED_SECONDS", 0.0)  # restored after the test
    session_module.ping_only_idle_connections(3600.0)
    engine = create_db_engine(postgres_database)
    try:
        first = _backend(engine)
        end_backend(postgres_database, first)
        with pytest.raises(OperationalError) as caught:
            _backend(engine)
        assert caught.value.connection_invalidated
        assert _backend(engine) != first
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_schema_check_whose_connection_is_lost_is_made_again_on_a_new_one(
        postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An orchestrator that starts while the server ends connections (a restart, a
    failover) checks the schema again on a new connection rather than failing to start."""
    from polyaxon_core.db import session as session_module

    monkeypatch.setattr(session_module, "_UNPINGED_SECONDS", 0.0)  # restored after the test
    session_module.ping_only_idle_connections(3600.0)  # the pooled connection is not pinged
    engine = get_engine(postgres_database)
    engine.dispose()  # the pool then holds one connection: the one ended below
    first = _backend(engine)
    end_backend(postgres_database, first)
    session_module.ensure_database(postgres_database)
    assert _backend(engine) != first
    assert is_current(postgres_database)


@pytest.mark.postgres
def test_a_transaction_whose_connection_is_lost_before_its_commit_is_done_again_on_a_new_one(
        postgres_database: str) -> None:
    from polyaxon_core.db.session import transact

    backends: list[int] = []

    def work(session: Session) -> int:
        backend = int(session.scalar(text("SELECT pg_backend_pid()")) or 0)
        backends.append(backend)
        if len(backends) == 1:
            end_backend(postgres_database, backend)  # lost mid-transaction
        return int(session.scalar(text("SELECT 1")) or 0)

    assert transact(postgres_database, work) == 1
    assert len(backends) == 2 and backends[0] != backends[1]


def test_a_reading_session_sees_what_was_committed_and_refuses_to_write(db_url: str) -> None:
    from polyaxon_core.db.models import Project
    from polyaxon_core.db.session import reading

    with session_scope(db_url) as session:
        create_project(session, "seen")
    with reading(db_url) as session:
        assert list(session.scalars(select(Project.name))) == ["seen"]
        session.add(Project(name="written", owner="someone"))
        with pytest.raises(RuntimeError, match="a reading session writes nothing"):
            session.flush()
    with session_scope(db_url) as session:
        assert list(session.scalars(select(Project.name))) == ["seen"]
