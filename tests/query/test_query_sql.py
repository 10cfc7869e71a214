"""Queries run against real rows, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import CompileError

from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.query import apply_query, parse_query

from .population import UUIDS, Population

EVERY_RUN = {"sweep", "resnet", "vgg", "eval", "notebook"}

CHOICE_AND_TEXT = [
    ("status:running", {"sweep", "notebook"}),
    ("status:running|queued", {"sweep", "notebook", "eval"}),
    ("status: running | queued", {"sweep", "notebook", "eval"}),
    ("status:~running", {"resnet", "vgg", "eval"}),
    ("status:~running|queued", {"resnet", "vgg"}),
    ("kind:service", {"notebook"}),
    ("runtime:nil", {"eval"}),
    ("runtime:~nil", EVERY_RUN - {"eval"}),
    ("queue:gpu", {"sweep", "resnet"}),
    ("queue:~gpu", {"vgg"}),
    ("cloning_kind:copy", {"eval"}),
    ("name:train-resnet", {"resnet"}),
    ("name:train%", {"resnet", "vgg"}),
    ("name:%resnet", {"resnet", "eval"}),
    ("name:%RES%", {"resnet", "eval"}),
    ("name:~%resnet%", {"sweep", "vgg"}),
    ("name:train_%", set()),
    ("name:nil", {"notebook"}),
    ("name:sweep|train-vgg", {"sweep", "vgg"}),
    ("description:%LR%", {"sweep"}),
]

RUNS_AND_TAGS = [
    (f"uuid:{UUIDS['resnet']}", {"resnet"}),
    (f"uuid:{uuid.UUID(UUIDS['resnet'])}", {"resnet"}),
    (f"id:{UUIDS['resnet'].upper()}", {"resnet"}),
    (f"uuid:{UUIDS['vgg']}|{UUIDS['eval']}", {"vgg", "eval"}),
    ("uuid:bbbb%", {"resnet"}),
    (f"uuid:~{UUIDS['resnet']}", EVERY_RUN - {"resnet"}),
    (f"pipeline:{UUIDS['sweep']}", {"resnet", "vgg"}),
    (f"pipeline:{'f' * 32}", set()),
    ("pipeline:nil", {"sweep", "eval", "notebook"}),
    ("pipeline:~nil", {"resnet", "vgg"}),
    (f"pipeline:~{UUIDS['sweep']}", set()),
    (f"original:{UUIDS['resnet']}", {"eval"}),
    (f"original:{UUIDS['resnet']}|{UUIDS['sweep']}", {"eval"}),
    ("tags:vision", {"resnet", "vgg"}),
    ("tags:baseline|dev", {"resnet", "notebook"}),
    ("tags:~vision", {"sweep", "eval", "notebook"}),
    ("tags:nil", {"eval"}),
    ("tags:~nil", EVERY_RUN - {"eval"}),
]

DATETIMES = [
    ("created_at:2024-01-10", {"resnet"}),
    ("created_at:2024-01-10 09:30", {"resnet"}),
    ("created_at:2024-01-10 09:31", set()),
    ("created_at:2024-01-31 23:59:59", {"vgg"}),
    ("created_at:2024-01-31T23:59:58", set()),
    ("created_at:>2024-01-31", {"eval", "notebook"}),
    ("created_at:>=2024-01-31", {"vgg", "eval", "notebook"}),
    ("created_at:<2024-01-10", {"sweep"}),
    ("created_at:<=2024-01-10", {"sweep", "resnet"}),
    ("created_at:~<=2024-01-10", {"vgg", "eval", "notebook"}),
    ("created_at:2024-01-01 .. 2024-01-31", {"sweep", "resnet", "vgg"}),
    ("created_at:2024-01-10 09:30 .. 2024-02-01 00:00", {"resnet", "vgg", "eval"}),
    ("created_at:~2024-01-01 .. 2024-01-31", {"eval", "notebook"}),
    ("created_at:2024-02-01T00:00:00Z", {"eval"}),
    ("created_at:2024-02-01 01:00+01:00", {"eval"}),
    ("created_at:2024-01-31 18:59:59-05:00", {"vgg"}),
    ("started_at:2024-02-01", {"vgg"}),
    ("started_at:nil", {"eval"}),
    ("finished_at:~nil", {"resnet", "vgg"}),
    ("finished_at:~2024-01-10", {"vgg"}),
    ("updated_at:>2000-01-01", EVERY_RUN),
]

NUMBERS = [
    ("duration:>1000", {"resnet"}),
    ("duration:120", {"vgg"}),
    ("duration:120.0", {"vgg"}),
    ("duration:~<=120", {"resnet"}),
    ("duration:100 .. 3600", {"resnet", "vgg"}),
    ("duration:~100 .. 200", {"resnet"}),
    ("duration:nil", {"sweep", "eval", "notebook"}),
    ("wait_time:6e1", {"resnet"}),
    ("metrics.loss:<0.1", {"resnet"}),
    ("metrics.loss:>=0.05", {"resnet", "vgg"}),
    ("metrics.loss:0.4", {"vgg"}),
    ("metrics.loss:~<0.1", {"vgg"}),
    ("metrics.loss:nil", {"sweep", "eval", "notebook"}),
    ("metrics.loss:~nil", {"resnet", "vgg"}),
    ("metrics.accuracy:1", {"eval"}),
    ("metrics.accuracy:0.5 .. 1", {"resnet", "vgg", "eval"}),
    ("metrics.accuracy:>-1, metrics.loss:<1", {"resnet", "vgg"}),
    ("metrics.missing:>0", set()),
]

JSON_VALUES = [
    ("inputs.lr:0.01", {"resnet"}),
    ('inputs.lr:"0.01"', {"eval"}),
    ("inputs.lr:<0.05", {"resnet"}),
    ("inputs.lr:~<0.05", {"vgg"}),
    ("inputs.lr:0.01 .. 0.1", {"resnet", "vgg"}),
    ("inputs.lr:~nil", {"resnet", "vgg", "eval", "notebook"}),
    ("inputs.optimizer:adam", {"resnet"}),
    ("inputs.optimizer:adam|sgd", {"resnet", "vgg"}),
    ("inputs.optimizer:~adam", {"vgg"}),
    ("inputs.optimizer:nil", {"sweep", "eval", "notebook"}),
    ("inputs.epochs:10", {"resnet"}),
    ('inputs.epochs:"10"', {"vgg"}),
    ('inputs.epochs:10|"10"', {"resnet", "vgg"}),
    ("inputs.epochs:~10", {"vgg"}),
    ("inputs.use_gpu:true", {"resnet"}),
    ("inputs.use_gpu:false", {"vgg"}),
    ('inputs.use_gpu:"true"', {"notebook"}),
    ("inputs.use_gpu:~true", {"vgg", "notebook"}),
    ("inputs.use_gpu:true|false", {"resnet", "vgg"}),
    ("params.lr:0.1", {"vgg"}),
    ("in.model:resnet50", {"eval"}),
    ("outputs.model:resnet50", {"resnet"}),
    ("out.size:>50", {"resnet"}),
    ("outputs.size:98", {"resnet"}),
]

COMBINATIONS = [
    ("status:running, kind:dag", {"sweep"}),
    ("status:running AND kind:service", {"notebook"}),
    ("status:failed OR tags:nil", {"vgg", "eval"}),
    ("status:failed | kind:service", {"vgg", "notebook"}),
    ("kind:service OR status:succeeded, tags:baseline", {"notebook", "resnet"}),
    ("kind:service OR status:failed AND tags:baseline", {"notebook"}),
    ("(kind:service OR status:failed) AND tags:vision", {"vgg"}),
    ("(kind:service OR status:succeeded), tags:vision-old", {"notebook"}),
    ("status:running and kind:dag or name:nil", {"sweep", "notebook"}),
    ("((status:queued))", {"eval"}),
    ("(" * 32 + "status:queued" + ")" * 32, {"eval"}),
    (f"pipeline:{UUIDS['sweep']}, metrics.loss:<0.1 | pipeline:nil, kind:dag", {"resnet", "sweep"}),
]


@pytest.mark.parametrize(("query", "expected"), CHOICE_AND_TEXT)
def test_choice_and_text_fields(population: Population, query: str, expected: set[str]) -> None:
    assert population.matching(query) == expected


@pytest.mark.parametrize(("query", "expected"), RUNS_AND_TAGS)
def test_uuid_run_reference_and_tag_fields(
    population: Population, query: str, expected: set[str]
) -> None:
    assert population.matching(query) == expected


@pytest.mark.parametrize(("query", "expected"), DATETIMES)
def test_datetime_fields(population: Population, query: str, expected: set[str]) -> None:
    assert population.matching(query) == expected


@pytest.mark.parametrize(("query", "expected"), NUMBERS)
def test_number_fields_and_metrics(
    population: Population, query: str, expected: set[str]
) -> None:
    assert population.matching(query) == expected


@pytest.mark.parametrize(("query", "expected"), JSON_VALUES)
def test_json_values_compare_by_their_own_type(
    population: Population, query: str, expected: set[str]
) -> None:
    assert population.matching(query) == expected


@pytest.mark.parametrize(("query", "expected"), COMBINATIONS)
def test_and_binds_tighter_than_or(
    population: Population, query: str, expected: set[str]
) -> None:
    assert population.matching(query) == expected


def test_a_parsed_query_is_reused_and_adds_to_an_existing_where(population: Population) -> None:
    query = parse_query("status:running|failed")
    statement = apply_query(select(Run.uuid).where(Run.kind == "job"), query)
    with session_scope(population.url) as session:
        assert set(session.scalars(statement)) == {UUIDS["vgg"]}
    assert population.matching(query) == {"sweep", "vgg", "notebook"}


def test_same_shape_with_other_keys_does_not_reuse_the_cached_key(
    population: Population,
) -> None:
    # The JSON key is written into the SQL text; statements differing only in the key
    # must not share a compiled form.
    assert population.matching("metrics.loss:<0.5") == {"resnet", "vgg"}
    assert population.matching("metrics.accuracy:<0.5") == set()
    assert population.matching("inputs.optimizer:sgd") == {"vgg"}
    assert population.matching("outputs.model:sgd") == set()


def test_translation_refuses_databases_other_than_sqlite_and_postgresql() -> None:
    statement = apply_query(select(Run.id), "metrics.loss:<0.1")
    with pytest.raises(CompileError, match="SQLite and PostgreSQL"):
        statement.compile(dialect=mysql.dialect())
