"""Typed SQLAlchemy 2 models. Plugins never see these: see ``db.convert``."""

from __future__ import annotations

import uuid as uuid_module
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship
from sqlalchemy.orm.interfaces import LoaderOption
from sqlalchemy.types import TypeEngine


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return uuid_module.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONType(TypeDecorator[Any]):
    """JSON documents: ``JSONB`` on PostgreSQL, ``JSON`` elsewhere. The PostgreSQL
    dialect (tens of milliseconds to import, with its drivers' modules) is imported once
    a PostgreSQL connection needs it, not by every command on the SQLite default."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[str]: JSONType}


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_projects_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uuid)
    owner: Mapped[str] = mapped_column(String(150), default="default")
    name: Mapped[str] = mapped_column(String(150))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    #: the queue of its runs whose polyaxonfile and command name none (None: ``default``)
    queue: Mapped[str | None] = mapped_column(String(150))
    #: what every run of the project notifies: ``[{"connection": NAME, "trigger": STATUS}]``
    notifications: Mapped[list[Any] | None] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    runs: Mapped[list[Run]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )


class ProjectCI(Base):
    """A project's link to a git repository: a new commit on ``branch`` runs the
    repository's ``polyaxonfile`` at that commit (``polyaxon project ci``)."""

    __tablename__ = "project_ci"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    #: the catalog's ``git`` connection: its ``url`` (a URL git reaches, or a local path), and
    #: in its secret the ``webhook_secret`` that signs webhook calls
    connection: Mapped[str] = mapped_column(String(150))
    branch: Mapped[str] = mapped_column(String(256))
    polyaxonfile: Mapped[str] = mapped_column(String(1024))
    enabled: Mapped[bool] = mapped_column(default=True)
    last_commit: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None] = mapped_column()
    #: a webhook call asked for a check at once
    requested_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Queue(Base):
    """A named queue: runs in it start by priority, at most ``concurrency`` at a time."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    priority: Mapped[int] = mapped_column(default=0)
    concurrency: Mapped[int] = mapped_column(default=2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "matrix_index", name="uq_runs_pipeline_matrix_index"),
        Index("ix_runs_status_queue", "status", "queue"),
        Index("ix_runs_project_archived_created", "project_id", "archived_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uuid)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    #: job | service | dag | matrix
    kind: Mapped[str] = mapped_column(String(32))
    #: ``agent``: launched and watched by the orchestrator; ``user``: tracked from a process
    #: of the user's (a notebook, a laptop) that reports its own status through the SDK
    managed_by: Mapped[str] = mapped_column(String(16), default="agent", server_default="agent")
    #: the component's run kind (job | service | dag)
    runtime: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="created", index=True)
    queue: Mapped[str | None] = mapped_column(String(150))
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    meta_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the last value logged of each metric, for leaderboards and ``metrics.*`` queries
    last_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the compiled operation (JSON text) and the polyaxonfile as the user wrote it
    content: Mapped[str | None] = mapped_column(Text)
    raw_content: Mapped[str | None] = mapped_column(Text)
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    matrix_index: Mapped[int | None] = mapped_column(Integer)
    original_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    #: copy | restart | resume (how this run was made from ``original``)
    cloning_kind: Mapped[str | None] = mapped_column(String(16))
    retries: Mapped[int] = mapped_column(default=0)
    #: the scheduler plugin's name and handle, so any orchestrator can find the run again
    scheduler: Mapped[str | None] = mapped_column(String(64))
    scheduler_handle: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stop_requested_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    #: seconds between creation and start, and between start and finish
    wait_time: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    #: who created the run through the API (None: the CLI, a sweep, a server without auth);
    #: users are deactivated, never deleted, so the reference cannot dangle
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when the run was archived: hidden from run lists until restored
    archived_at: Mapped[datetime | None] = mapped_column()

    project: Mapped[Project] = relationship(back_populates="runs")
    user: Mapped[User | None] = relationship()
    pipeline: Mapped[Run | None] = relationship(
        remote_side=[id], foreign_keys=[pipeline_id], back_populates="children"
    )
    children: Mapped[list[Run]] = relationship(
        foreign_keys=[pipeline_id], back_populates="pipeline", passive_deletes=True
    )
    original: Mapped[Run | None] = relationship(remote_side=[id], foreign_keys=[original_id])
    conditions: Mapped[list[RunStatusCondition]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RunStatusCondition.id",
    )


def with_project() -> LoaderOption:
    """The query option loading a run's project with it (a run always has one) in the
    same query, where ``selectinload`` takes a second; ``FOR UPDATE OF runs``
    (:func:`polyaxon_core.db.claims.claim_rows`) still locks only the run. Made when
    first used: the mappers are complete only once every model is imported."""
    return joinedload(Run.project, innerjoin=True)


def with_pipeline_uuid() -> LoaderOption:
    """The query option loading the uuid of a run's pipeline (its DAG or sweep) in the
    same query, where :func:`~polyaxon_core.db.convert.run_to_entity` would otherwise
    load the pipeline's whole row (a DAG's content names all its operations); its other
    columns load if they are read. Made when first used, as :func:`with_project`."""
    return joinedload(Run.pipeline).load_only(Run.uuid)


class RunStatusCondition(Base):
    """One entry of a run's status timeline."""

    __tablename__ = "run_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(256))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    run: Mapped[Run] = relationship(back_populates="conditions")


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (
        Index("ix_metrics_run_attempt_name_step", "run_id", "attempt", "name", "step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    #: the attempt of the run that logged the point: 1, then one more per retry or resume
    attempt: Mapped[int] = mapped_column(default=1, server_default="1")
    name: Mapped[str] = mapped_column(String(256))
    step: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)


class Artifact(Base):
    """A file or folder a run logged, with its place in the artifact store."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_artifacts_run_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(64), default="file")
    path: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    #: ``scrypt$n$r$p$salt$hash`` (see ``polyaxon_core.accounts``); never the password
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """An API token; only its SHA-256 is stored, the key is shown once when issued."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(150))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the first characters of the key, to tell tokens apart in listings
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    #: the run this token was issued to (its tracking SDK's); revoked when the run ends
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    #: the agent this token was issued to: it may act as that agent only
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship()
    agent: Mapped[Agent | None] = relationship()


class Agent(Base):
    """A process next to a cluster that starts the runs of its queues there: the runs
    whose queue is ``<agent name>/<queue>`` (Polyaxon's naming), in ``namespace``."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    namespace: Mapped[str] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when it last asked for work or reported
    last_seen_at: Mapped[datetime | None] = mapped_column()


class OrganizationMember(Base):
    """A user's role in the organization (owner, manager, admin, member, viewer)."""

    __tablename__ = "organization_members"
    __table_args__ = (UniqueConstraint("owner", "user_id", name="uq_org_members_owner_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(150), default="default")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectMember(Base):
    """A user's role on one project (owner, admin, member, viewer)."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "user_id", name="uq_project_members"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetricBatch(Base):
    """An ingested batch of metrics, so that a client retrying a batch cannot duplicate it."""

    __tablename__ = "metric_batches"
    __table_args__ = (UniqueConstraint("run_id", "batch_id", name="uq_metric_batches"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One notification owed to a run's hook, with its delivery attempts: created with the
    final status that triggers it (same transaction), delivered by the orchestrator."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "run_attempt", "source", "connection", name="uq_notification_deliveries"),
        Index("ix_notification_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    #: which attempt of the run (a resumed run notifies again)
    run_attempt: Mapped[int] = mapped_column(default=1)
    #: where it was asked for: ``hooks[0]``, ``plugins.notifications[1]``
    source: Mapped[str] = mapped_column(String(64))
    connection: Mapped[str] = mapped_column(String(150))
    notifier: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32))
    #: ``pending``, ``succeeded`` or ``failed`` (given up after the last attempt)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class Build(Base):
    """An image built for a project's runs, named by the hash of what decides it (its
    Dockerfile, context and destination): runs that ask for the same build share it, so
    it runs once. A failed build is started again by the next run that asks for it."""

    __tablename__ = "builds"
    __table_args__ = (UniqueConstraint("project_id", "key", name="uq_builds_project_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    builder: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(Text)
    #: ``running``, ``succeeded`` or ``failed``
    status: Mapped[str] = mapped_column(String(16), default="running")
    #: how many times it was started (a failed build starts again)
    attempt: Mapped[int] = mapped_column(default=1)
    #: the run it was started for (its folder holds the context)
    run_uuid: Mapped[str] = mapped_column(String(32))
    handle: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class Team(Base):
    """A named group of users of an organization, given a role on projects as one."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_teams_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(150), default="default")
    name: Mapped[str] = mapped_column(String(150))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_members"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamProject(Base):
    """A team's role on one project: each of its members has at least that role there."""

    __tablename__ = "team_projects"
    __table_args__ = (UniqueConstraint("team_id", "project_id", name="uq_team_projects"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: a quota is of exactly one project, team or user
QUOTA_ONE_SUBJECT = " + ".join(f"(CASE WHEN {column} IS NULL THEN 0 ELSE 1 END)"
                               for column in ("project_id", "team_id", "user_id")) + " = 1"


class Quota(Base):
    """A cap on what one project, team (the projects it has a role on) or user (the runs
    they created) may have running at once: runs, and the CPU, memory and GPUs they
    request; None: no cap on that."""

    __tablename__ = "quotas"
    __table_args__ = (
        CheckConstraint(QUOTA_ONE_SUBJECT, name="ck_quotas_one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                                   index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    max_runs: Mapped[int | None] = mapped_column()
    cpu: Mapped[float | None] = mapped_column(Float)
    memory: Mapped[int | None] = mapped_column(BigInteger)
    gpu: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunLease(Base):
    """One attempt of a run as a worker executes it (``polyaxon worker``): the fence that
    lets a redelivered task start nothing twice, and what the worker reports.

    The row is inserted by whoever takes the attempt first: the worker that starts it, or
    the orchestrator cancelling it before any worker did; ``(run_id, attempt)`` is
    unique, so a second delivery of the same attempt finds it taken. The worker updates
    ``heartbeat_at`` while the attempt lives and writes ``status`` (a final one) when it
    ends; the orchestrator reads it and moves the run through the one writer of run
    state. ``stop``: what the orchestrator asks of the worker (``term``, ``kill``).
    """

    __tablename__ = "run_leases"
    __table_args__ = (UniqueConstraint("run_id", "attempt", name="uq_run_leases_run_attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column()
    worker: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column()
    stop: Mapped[str | None] = mapped_column(String(8))


class LoginAttempt(Base):
    """A password login, kept for the rate limits of ``polyaxon_core.login_limits``.

    ``account`` is the username as sent (whether or not such a user exists).
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_account_created", "account", "created_at"),
        Index("ix_login_attempts_address_created", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(150))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """A security event (see ``polyaxon_core.domain.audit``), readable by administrators."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_owner_created", "owner", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(150), default="default")
    event: Mapped[str] = mapped_column(String(64), index=True)
    #: who did it (a username; None: anonymous or the local administrator)
    actor: Mapped[str | None] = mapped_column(String(150))
    #: the client address the request came from, if it came through the API
    address: Mapped[str | None] = mapped_column(String(64))
    #: what it was done to: ``user:<name>``, ``project:<owner>/<name>``, ``token:<id>``, ...
    target: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dashboard(Base):
    """A saved view of a project's runs (query, sort, columns and chart widgets), kept by
    the user who saved it and, when ``shared``, shown to everyone who reads the project."""

    __tablename__ = "dashboards"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", "name", name="uq_dashboards_project_user_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uuid)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    #: who saved it (None: the local administrator, or a user since deleted)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(150))
    description: Mapped[str | None] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(default=False)
    #: ``{"query", "sort", "columns", "widgets"}`` (see ``polyaxon_core.domain.dashboards``)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    user: Mapped[User | None] = relationship()


class ProjectVersion(Base):
    """A named version of something a project made (Polyaxon 2.x's project versions): a
    ``component`` (its polyaxonfile, what a hub serves), a ``model`` or an ``artifact``
    (a run and the names of the artifacts of its lineage it stands for). It copies
    nothing: it points at the run. Its ``stage`` moves through :class:`VersionStage`."""

    __tablename__ = "project_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "name", name="uq_project_versions_project_kind_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uuid)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    #: component | model | artifact
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(150))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    #: the run it was promoted from (None: a component pushed as a file, or a run deleted)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    #: the names of the run's lineage entries it stands for (a model's files)
    artifacts: Mapped[list[str]] = mapped_column(default=list)
    #: a component's polyaxonfile, as pushed
    content: Mapped[str | None] = mapped_column(Text)
    #: testing | staging | production | disabled
    stage: Mapped[str] = mapped_column(String(32), default="testing")
    #: who made it (None: the local administrator, or a user since deleted)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    run: Mapped[Run | None] = relationship()
    user: Mapped[User | None] = relationship()
    stages: Mapped[list[VersionStage]] = relationship(
        back_populates="version", order_by="VersionStage.id", cascade="all, delete-orphan")


class VersionStage(Base):
    """One entry of a version's stage history: the stage it moved to, why, and who."""

    __tablename__ = "version_stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("project_versions.id", ondelete="CASCADE"),
                                            index=True)
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(256))
    message: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[ProjectVersion] = relationship(back_populates="stages")
    user: Mapped[User | None] = relationship()
