"""Claiming work when several processes may want it: orchestrator replicas and workers.

Two tools, both PostgreSQL's own, with the embedded default's equivalent:

* :func:`claim_rows` adds ``FOR UPDATE SKIP LOCKED`` to a select of rows to act on (a
  queued run to launch, a sweep or a DAG to advance, a build to follow): the rows another
  replica is acting on are left out instead of waited for, and the rows returned stay
  locked until the transaction ends, so no two replicas act on one row at once. SQLite
  has no row locks (SQLAlchemy renders nothing there); its writers are serialized by the
  database itself and every status change is a compare-and-set
  (:func:`polyaxon_core.domain.state.transition`), so a row acted on twice moves once.
* :func:`critical_section` for a decision that reads many rows and must not be taken by
  two replicas at once (how many runs a queue or a quota has running before claiming
  more): a transaction-scoped advisory lock on PostgreSQL, *tried*, so a replica that
  finds it held skips that step for this pass rather than queueing behind it (what
  Airflow's schedulers do with their pool rows); on SQLite, the database's write lock,
  taken at the start of the transaction, so the counts read are still true at commit.

And for a row several processes may create at once (a queue first used by many clients,
a batch of metric points sent again): :func:`insert_unless_present`, an ``INSERT`` that
does nothing when the row exists (``ON CONFLICT DO NOTHING``, on both databases).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, Table, insert, text
from sqlalchemy.orm import Session

SelectT = TypeVar("SelectT", bound=Select[Any])


def claim_rows(statement: SelectT, *of: Any) -> SelectT:
    """``statement`` locking the rows it returns (of the entities ``of``), skipping those
    locked by another transaction."""
    return statement.with_for_update(skip_locked=True, of=list(of) or None)


def critical_section(session: Session, name: str) -> bool:
    """Enter the critical section ``name`` for the rest of ``session``'s transaction;
    False when another transaction holds it (PostgreSQL only: SQLite waits its turn)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"polyaxon:{name}".encode())
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))
    # a write that changes nothing takes SQLite's write lock until the commit
    session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0"))
    return True


def insert_unless_present(table: Table, dialect: str, key: Sequence[str]) -> Any:
    """An ``INSERT`` into ``table`` that does nothing when a row with the same ``key`` (a
    unique constraint's columns) exists, on the database of ``dialect``: PostgreSQL and
    SQLite say so with ``ON CONFLICT DO NOTHING``; elsewhere, a plain insert. A dialect's
    module is imported by the database that uses it, not by every command."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))
    return insert(table)
