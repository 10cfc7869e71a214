"""Properties over generated texts: any text parses or raises QueryError, and any query
that parses runs on both databases, with the same answer on each."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyaxon_core.db.session import migrate
from polyaxon_core.query import QueryError, parse_query, parse_sort

from .population import UUIDS, Population

# Pieces of the language, so generated texts reach past the first character.
FRAGMENTS = [
    "status", "name", "tags", "uuid", "pipeline", "created_at", "duration", "metrics",
    "metrics.loss", "inputs.lr", "params", "out.x", "colour", ".", ":", "~", "nil", "|",
    " | ", "..", " .. ", "<", "<=", "=<", ">", ">=", "%", ",", " AND ", " OR ", " and ",
    " or ", "AND", "OR", "(", ")", " ", "\t", "\n", "running", "queued", "0.1", "-3",
    "1e3", "1e999", "true", '"', '"10"', "2024-01-10", "2024-01-31 23:59:59", "25:00",
    "Z", "+02:00", "a" * 32, "-", "x", "_", "é", "\x00",
]

fragment_texts = st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join)
any_texts = st.one_of(st.text(max_size=60), fragment_texts)


def assert_points_into(error: QueryError, text: str) -> None:
    assert 0 <= error.position <= len(text)
    assert text[error.position:error.position + len(error.token)] == error.token
    assert error.message and str(error).startswith(error.message)


@settings(max_examples=600, deadline=None, database=None)
@given(any_texts)
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    try:
        parse_query(text)
    except QueryError as error:
        assert_points_into(error, text)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(max_size=40), fragment_texts))
def test_any_text_is_a_sort_or_raises_query_error(text: str) -> None:
    try:
        parse_sort(text)
    except QueryError as error:
        assert_points_into(error, text)


# Well-typed conditions: values each field can hold, and the operations its type takes.
_UUIDS = list(UUIDS.values())
_VALUES: dict[str, list[str]] = {
    "status": ["running", "queued", "failed", "succeeded"],
    "kind": ["job", "service", "dag"],
    "queue": ["gpu", "cpu"],
    "name": ["train-resnet", "sweep", "Eval-ResNet", "x"],
    "tags": ["vision", "dev", "baseline", "sweep"],
    "uuid": _UUIDS,
    "pipeline": _UUIDS,
    "original": _UUIDS,
    "created_at": ["2024-01-05", "2024-01-10 09:30", "2024-01-31 23:59:59", "2024-02-01"],
    "started_at": ["2024-01-05", "2024-02-01 00:00:30", "2024-02-15 12:05"],
    "duration": ["0", "120", "3600"],
    "wait_time": ["31", "60"],
    "metrics.loss": ["0.05", "0.4", "1"],
    "metrics.accuracy": ["0.5", "0.97", "1"],
    "inputs.lr": ["0.01", "0.1", '"0.01"', "true"],
    "inputs.use_gpu": ["true", "false", '"true"'],
    "inputs.optimizer": ["adam", "sgd", "1"],
    "outputs.size": ["98", "99"],
}
_ORDERED = {"created_at", "started_at", "duration", "wait_time", "metrics.loss",
            "metrics.accuracy"}
_JSON = {"inputs.lr", "inputs.use_gpu", "inputs.optimizer", "outputs.size"}
_PATTERNS = {"name", "uuid"}


@st.composite
def conditions(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(sorted(_VALUES)))
    values = _VALUES[field]
    value = draw(st.sampled_from(values))
    forms = ["{v}", "nil"]
    bounds = [v for v in values if field in _ORDERED or v.replace(".", "").isdigit()]
    if bounds:
        low, high = sorted(draw(st.lists(st.sampled_from(bounds), min_size=2, max_size=2)),
                           key=lambda v: v if field.endswith("_at") else float(v))
        bound = draw(st.sampled_from(bounds))
        forms += [f"{operator}{bound}" for operator in ("<", "<=", ">", ">=")]
        forms.append(f"{low} .. {high}")
    if field not in _ORDERED:
        other = draw(st.sampled_from(values))
        forms.append(f"{{v}}|{other}")
    if field in _PATTERNS:
        part = value[:4]
        forms += [f"%{part}%", f"{part}%", f"%{value[-3:]}"]
    operation = draw(st.sampled_from(forms)).format(v=value)
    negation = draw(st.sampled_from(["", "~"]))
    return f"{field}:{negation}{operation}"


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    separators = st.sampled_from([", ", " AND ", " and ", " OR ", " | ", ","])
    return st.one_of(
        st.tuples(children, separators, children).map("".join),
        children.map(lambda inner: f"({inner})"),
    )


# Any character at all, surrogates and control characters included, in the values of
# fields of each type.
odd_values = st.text(st.characters(exclude_categories=()), min_size=1, max_size=6)
odd_conditions = st.tuples(
    st.sampled_from(["name:", "name:~%", "tags:", "inputs.x:", "queue:", "metrics.m:<",
                     "uuid:", "created_at:"]),
    odd_values,
).map("".join)
queries = st.recursive(conditions(), _combine, max_leaves=6)
SORTS = st.sampled_from(["-created_at", "name", "-metrics.loss,uuid", "inputs.lr",
                         "-inputs.use_gpu, -duration", "status,-started_at"])


def test_generated_conditions_are_valid_queries() -> None:
    # The strategies below rely on it: a generated query that failed to parse would
    # test nothing.
    @settings(max_examples=300, deadline=None, database=None)
    @given(queries)
    def parses(query: str) -> None:
        parse_query(query)

    parses()


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, sort=SORTS)
def test_any_parsed_query_runs_on_the_database(
    population: Population, query: str, sort: str
) -> None:
    assert set(population.ordered(sort, query=query)) == population.matching(query)


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(odd_conditions)
def test_any_value_that_parses_runs_on_the_database(population: Population, query: str) -> None:
    try:
        parse_query(query)
    except QueryError:
        return
    population.matching(query)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_sqlite_and_postgresql_give_the_same_runs_in_the_same_order(
    db_url: str, tmp_path: Path
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'agreement.db'}"
    migrate(sqlite_url)
    on_sqlite, on_postgres = Population.insert(sqlite_url), Population.insert(db_url)

    @settings(max_examples=200, deadline=None, database=None)
    @given(query=queries, sort=SORTS)
    def agree(query: str, sort: str) -> None:
        assert on_sqlite.ordered(sort, query=query) == on_postgres.ordered(sort, query=query)

    agree()
