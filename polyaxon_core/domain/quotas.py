"""Quotas: caps on what a project, a team or a user has running at once.

A quota names one subject and caps, each optionally, how many runs it has running and the
CPU, memory and GPUs those runs request (``container.resources``: ``requests.cpu``,
``requests.memory``, and the whole devices of a ``*/gpu`` limit). A project's quota
covers its runs; a team's, the runs of the projects the team has a role on; a user's, the
runs they created. Sweeps and DAGs only start runs, so only runs (a sweep's trials, a
DAG's operations) count.

Quotas are enforced where runs are claimed (:class:`QuotaGate`, used inside the
orchestrator's claiming critical section, so no replica can overshoot one): a run that
would take a quota over its cap stays ``queued``, its timeline says which quota holds it
and why, and it starts on the first pass after the quota allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Project, Quota, Run, Team, TeamProject, User
from polyaxon_core.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from polyaxon_core.lifecycle import ACTIVE_STATUSES, CONTROLLED_KINDS, Status

#: the reason in a run's timeline while a quota holds it: ``quota:<name>``
QUOTA_REASON = "quota"


@dataclass(frozen=True)
class Hold:
    """A quota holding a run back: which, and why (for the run's timeline)."""

    quota: str
    message: str

    @property
    def reason(self) -> str:
        return f"{QUOTA_REASON}:{self.quota}"


#: a quota's name: as a queue's
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,149}$"
_NAME = re.compile(NAME_PATTERN)
_ACTIVE = [status.value for status in ACTIVE_STATUSES]


def parse_quantity(value: Any, what: str) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5Gi``) as a number; InvalidRequest
    naming ``what`` when it is none."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    from polyaxon_core.spec.run import quantity_value

    number = quantity_value(value) if isinstance(value, str) else None
    if number is None:
        raise Unprocessable(f"{what} must be a quantity such as 2, 500m or 4Gi, not {value!r}")
    return number


@dataclass(frozen=True)
class Demand:
    """What one run asks for: one run, and its CPU (cores), memory (bytes) and GPUs."""

    cpu: float = 0.0
    memory: float = 0.0
    gpu: int = 0


def run_demand(run: Run) -> Demand:
    """What ``run`` requests of the quotas: its container's resource requests (a request
    only the launch can resolve, one naming ``globals.*``, counts as none)."""
    from polyaxon_core.domain.commands import load_spec
    from polyaxon_core.spec.templating import has_template, render

    container = load_spec(run).run.get("container") or {}
    resources = container.get("resources") or {}
    inputs = dict(run.inputs or {})

    def amount(value: Any, what: str) -> float:
        if isinstance(value, str) and has_template(value):
            try:
                value = render(value, inputs)
            except Exception:  # only the launch knows it
                return 0.0
        try:
            return parse_quantity(value, what)
        except InvalidRequest:
            return 0.0  # checked at submission; a template may render to anything

    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    gpus = sum(amount(value, name) for name, value in limits.items() if str(name).endswith("/gpu"))
    return Demand(cpu=amount(requests.get("cpu", 0), "cpu"),
                  memory=amount(requests.get("memory", 0), "memory"), gpu=int(gpus))


@dataclass
class _Usage:
    runs: int = 0
    cpu: float = 0.0
    memory: float = 0.0
    gpu: int = 0

    def add(self, demand: Demand) -> None:
        self.runs += 1
        self.cpu += demand.cpu
        self.memory += demand.memory
        self.gpu += demand.gpu


#: read by every claiming pass: built once
_QUOTAS = select(Quota).order_by(Quota.name)


class QuotaGate:
    """The quotas as they stand at one claiming pass: which runs they let start.

    Built inside the claiming critical section, from every quota and the runs active
    now; :meth:`refusal` says why a run may not start yet, :meth:`admit` counts one that
    does, so the runs claimed later in the same pass see it."""

    def __init__(self, session: Session) -> None:
        self.quotas = list(session.scalars(_QUOTAS))
        self.usage = {quota.id: _Usage() for quota in self.quotas}
        self._team_projects: dict[int, set[int]] = {}
        self._demands: dict[int, Demand] = {}
        #: whether any quota caps resources: else a run's requests need not be read
        self._sized = any(getattr(quota, cap) is not None
                          for quota in self.quotas for cap in ("cpu", "memory", "gpu"))
        if not self.quotas:
            return
        teams = [quota.team_id for quota in self.quotas if quota.team_id is not None]
        for team_id, project_id in session.execute(
                select(TeamProject.team_id, TeamProject.project_id).where(TeamProject.team_id.in_(teams))):
            self._team_projects.setdefault(team_id, set()).add(project_id)
        for run in self._active(session):
            self.admit(run)

    def _active(self, session: Session) -> Iterable[Run]:
        projects = {quota.project_id for quota in self.quotas if quota.project_id is not None}
        projects |= {project for ids in self._team_projects.values() for project in ids}
        users = {quota.user_id for quota in self.quotas if quota.user_id is not None}
        return session.scalars(select(Run).where(
            Run.status.in_(_ACTIVE), Run.kind.not_in(CONTROLLED_KINDS), Run.managed_by != "user",
            or_(Run.project_id.in_(projects), Run.user_id.in_(users))))

    def _applies(self, quota: Quota, run: Run) -> bool:
        if quota.project_id is not None:
            return run.project_id == quota.project_id
        if quota.team_id is not None:
            return run.project_id in self._team_projects.get(quota.team_id, set())
        return run.user_id is not None and run.user_id == quota.user_id

    def _demand(self, run: Run) -> Demand:
        if not self._sized or not run.content:
            return Demand()
        if run.id not in self._demands:
            self._demands[run.id] = run_demand(run)
        return self._demands[run.id]

    def refusal(self, run: Run) -> Hold | None:
        """Why ``run`` cannot start now (the first quota it would exceed), or None."""
        applicable = [quota for quota in self.quotas if self._applies(quota, run)]
        if not applicable:
            return None
        demand = self._demand(run)
        for quota in applicable:
            used = self.usage[quota.id]
            if quota.max_runs is not None and used.runs + 1 > quota.max_runs:
                return Hold(quota.name, f"quota '{quota.name}' allows {quota.max_runs} run(s) "
                                        "at once; it starts when one ends")
            for name, want, have, cap, unit in (
                    ("CPU", demand.cpu, used.cpu, quota.cpu, " cores"),
                    ("memory", demand.memory, used.memory, quota.memory, " bytes"),
                    ("GPU", demand.gpu, used.gpu, quota.gpu, "")):
                if cap is not None and want and have + want > cap + 1e-9:
                    if want > cap + 1e-9:
                        return Hold(quota.name, (
                            f"it requests {_show(want)}{unit} of {name}, more than quota "
                            f"'{quota.name}' allows at all ({_show(cap)}{unit}); lower its "
                            "request or raise the quota"))
                    return Hold(quota.name, f"quota '{quota.name}' allows {_show(cap)}{unit} of "
                                            f"{name} at once; it starts when enough is free")
        return None

    def admit(self, run: Run) -> None:
        """Count ``run`` as running in every quota that covers it."""
        if not self.quotas:
            return
        demand = self._demand(run)
        for quota in self.quotas:
            if self._applies(quota, run):
                self.usage[quota.id].add(demand)


def _show(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------------------- the records
def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidRequest(f"quota name {name!r} is not valid: use lowercase letters, digits, "
                             "'-', '_' or '.', starting with a letter or digit (at most 150)")


def _limits(values: Mapping[str, Any]) -> dict[str, Any]:
    """The caps among ``values`` (``max_runs``, ``cpu``, ``memory``, ``gpu``), checked and
    converted; a key given as None removes that cap."""
    limits: dict[str, Any] = {}
    if "max_runs" in values:
        runs = values["max_runs"]
        if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
            raise InvalidRequest(f"max_runs must be a whole number of at least 1, not {runs!r}")
        limits["max_runs"] = runs
    if "cpu" in values:
        limits["cpu"] = None if values["cpu"] is None else parse_quantity(values["cpu"], "cpu")
    if "memory" in values:
        limits["memory"] = (None if values["memory"] is None
                            else int(parse_quantity(values["memory"], "memory")))
    if "gpu" in values:
        gpu = values["gpu"]
        if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0):
            raise InvalidRequest(f"gpu must be a whole number of devices, not {gpu!r}")
        limits["gpu"] = gpu
    return limits


def _subject(session: Session, owner: str, project: str | None, team: str | None,
             user: str | None) -> dict[str, int]:
    given = [kind for kind, value in (("project", project), ("team", team), ("user", user)) if value]
    if len(given) != 1:
        raise Unprocessable("a quota is of exactly one project, team or user: give one of "
                             "project, team, user")
    if project:
        from polyaxon_core.domain.projects import get_project

        project_owner, _, project_name = project.rpartition("/")
        return {"project_id": get_project(session, project_name, project_owner or owner).id}
    if team:
        from polyaxon_core.domain.teams import get_team

        return {"team_id": get_team(session, str(team), owner).id}
    from polyaxon_core.accounts import get_user

    return {"user_id": get_user(session, str(user)).id}


def create_quota(session: Session, owner: str, name: str, *, project: str | None = None,
                 team: str | None = None, user: str | None = None,
                 **values: Any) -> Quota:
    """A new quota ``name`` of one project, team or user, with the caps in ``values``."""
    _check_name(name)
    if session.scalar(select(Quota.id).where(Quota.name == name)) is not None:
        raise Conflict(f"quota '{name}' exists already; change it with PATCH (or `polyaxon "
                       f"quotas update {name}`)")
    limits = _limits(values)
    if not any(value is not None for value in limits.values()):
        raise Unprocessable("a quota caps something: give max_runs, cpu, memory or gpu")
    quota = Quota(name=name, **_subject(session, owner, project, team, user), **limits)
    session.add(quota)
    session.flush()
    return quota


def update_quota(quota: Quota, **values: Any) -> Quota:
    """Change a quota's caps (a cap given as None is removed); the next claims use them."""
    for key, value in _limits(values).items():
        setattr(quota, key, value)
    if all(getattr(quota, key) is None for key in ("max_runs", "cpu", "memory", "gpu")):
        raise Unprocessable("a quota caps something: keep at least one of max_runs, cpu, "
                             "memory or gpu (or delete the quota)")
    return quota


def get_quota(session: Session, name: str) -> Quota:
    quota = session.scalar(select(Quota).where(Quota.name == name))
    if quota is None:
        raise NotFound(f"no quota named '{name}'; list them with `polyaxon quotas ls`")
    return quota


def delete_quota(session: Session, name: str) -> None:
    session.delete(get_quota(session, name))


def list_quotas(session: Session) -> list[Quota]:
    return list(session.scalars(select(Quota).order_by(Quota.name)))


def quota_documents(session: Session, quotas: list[Quota]) -> list[dict[str, Any]]:
    """``quotas`` with their subject and what they have in use now (``used``) and how many
    runs they hold back (``waiting``: queued runs whose timeline names the quota last)."""
    gate = QuotaGate(session)
    subjects: dict[int, dict[str, str]] = {}
    for quota in quotas:
        if quota.project_id is not None:
            project = session.get(Project, quota.project_id)
            assert project is not None
            subjects[quota.id] = {"kind": "project", "name": f"{project.owner}/{project.name}"}
        elif quota.team_id is not None:
            team = session.get(Team, quota.team_id)
            assert team is not None
            subjects[quota.id] = {"kind": "team", "name": team.name}
        else:
            user = session.get(User, quota.user_id)
            assert user is not None
            subjects[quota.id] = {"kind": "user", "name": user.username}
    waiting = _waiting(session)
    documents = []
    for quota in quotas:
        used = gate.usage.get(quota.id, _Usage())
        documents.append({
            "name": quota.name, "subject": subjects[quota.id], "max_runs": quota.max_runs,
            "cpu": quota.cpu, "memory": quota.memory, "gpu": quota.gpu,
            "used": {"runs": used.runs, "cpu": used.cpu, "memory": int(used.memory), "gpu": used.gpu},
            "waiting": waiting.get(quota.name, 0), "created_at": quota.created_at})
    return documents


def _waiting(session: Session) -> dict[str, int]:
    """How many queued runs a quota holds, by quota name (from their last condition)."""
    from polyaxon_core.db.models import RunStatusCondition

    last = (select(RunStatusCondition.run_id, func.max(RunStatusCondition.id).label("last"))
            .join(Run, Run.id == RunStatusCondition.run_id)
            .where(Run.status == Status.QUEUED.value).group_by(RunStatusCondition.run_id).subquery())
    reasons = session.scalars(
        select(RunStatusCondition.reason).join(last, last.c.last == RunStatusCondition.id)
        .where(RunStatusCondition.reason.like(f"{QUOTA_REASON}:%")))
    counts: dict[str, int] = {}
    for reason in reasons:
        name = str(reason).split(":", 1)[1]
        counts[name] = counts.get(name, 0) + 1
    return counts
