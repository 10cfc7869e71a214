"""Uuid prefixes (as `polyaxon ops ls` shows them) wherever a query takes a uuid."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from polyaxon_core.db.models import Project, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.query import QueryError, UuidPrefix, apply_query, parse_query
from polyaxon_core.query import resolve_uuid_prefixes as resolve

from .population import LABELS, UUIDS, Population

#: two more runs whose uuids share their first 8 characters, each in a project of its own
TWINS = {"twin-1": "0123abcd" + "1" * 24, "twin-2": "0123abcd" + "2" * 24}


@pytest.fixture
def twins(population: Population) -> Population:
    with session_scope(population.url) as session:
        for name, uuid in TWINS.items():
            project = Project(name=name)
            session.add(project)
            session.flush()
            session.add(Run(uuid=uuid, project_id=project.id, name=name, kind="job"))
    return population


def _matching(population: Population, text: str, project: str | None = None) -> set[str]:
    """The runs ``text`` matches (of ``project``), its prefixes resolved as `ops ls` does."""
    labels = {**LABELS, **{uuid: name for name, uuid in TWINS.items()}}
    with session_scope(population.url) as session:
        statement = select(Run.uuid)
        scope = None
        if project is not None:
            scope = Run.project_id == session.scalar(
                select(Project.id).where(Project.name == project))
            statement = statement.where(scope)
        query = resolve(session, text, scope)
        return {labels[uuid] for uuid in session.scalars(apply_query(statement, query))}


@pytest.mark.parametrize("written", ["0123abcd1111", "0123ABCD-1111", "0123"])
def test_a_short_hex_value_reads_as_a_prefix_in_any_spelling(written: str) -> None:
    condition = parse_query(f"pipeline:{written}").root
    expected = written.lower().replace("-", "")
    assert condition.values == (UuidPrefix(expected),)  # type: ignore[union-attr]


def test_a_prefix_shorter_than_four_characters_is_an_error() -> None:
    with pytest.raises(QueryError, match="at least its first 4"):
        parse_query("uuid:012")


@pytest.mark.parametrize(("query", "expected"), [
    ("uuid:bbbbbbbbbbbb", {"resnet"}),
    (f"pipeline:{UUIDS['sweep'][:12]}", {"resnet", "vgg"}),
    ("original:bbbb", {"eval"}),
    (f"uuid:cccc|{UUIDS['eval']}", {"vgg", "eval"}),
    ("uuid:~bbbb", {"sweep", "vgg", "eval", "notebook"}),
    ("pipeline:aaaa, uuid:cccc", {"vgg"}),
])
def test_a_prefix_naming_one_run_matches_as_its_uuid(
    population: Population, query: str, expected: set[str]
) -> None:
    assert _matching(population, query) == expected


def test_a_prefix_is_resolved_to_the_full_uuid(population: Population) -> None:
    with session_scope(population.url) as session:
        query = resolve(session, "pipeline:aaaaaaaaaaaa")
    assert query.root.values == (UUIDS["sweep"],)  # type: ignore[union-attr]


def test_a_prefix_naming_several_runs_is_an_error_listing_them(twins: Population) -> None:
    with pytest.raises(QueryError) as caught:
        _matching(twins, "status:created, pipeline:0123abcd")
    message = str(caught.value)
    assert TWINS["twin-1"] in message and TWINS["twin-2"] in message
    assert "give more characters" in message
    assert caught.value.token == "pipeline:0123abcd"
    assert caught.value.position == len("status:created, ")


def test_more_characters_settle_an_ambiguous_prefix(twins: Population) -> None:
    assert _matching(twins, "uuid:0123abcd1") == {"twin-1"}


def test_a_prefix_is_looked_up_within_the_scope_given(twins: Population) -> None:
    with pytest.raises(QueryError):
        _matching(twins, "uuid:0123abcd")
    assert _matching(twins, "uuid:0123abcd", project="twin-1") == {"twin-1"}
    assert _matching(twins, "uuid:0123abcd", project="query-language") == set()


@pytest.mark.parametrize(("query", "expected"), [
    ("uuid:9999", set()),
    ("pipeline:9999|aaaa", {"resnet", "vgg"}),
    ("uuid:~9999", {"sweep", "resnet", "vgg", "eval", "notebook"}),
])
def test_a_prefix_naming_no_run_matches_no_run(
    population: Population, query: str, expected: set[str]
) -> None:
    assert _matching(population, query) == expected
