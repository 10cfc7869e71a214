"""Sorts run against real rows, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest

from polyaxon_core.query import SortKey, parse_sort

from .population import Population

SORTS = [
    ("created_at", ["sweep", "resnet", "vgg", "eval", "notebook"]),
    ("-created_at", ["notebook", "eval", "vgg", "resnet", "sweep"]),
    ("name", ["eval", "sweep", "resnet", "vgg", "notebook"]),
    ("-name", ["vgg", "resnet", "sweep", "eval", "notebook"]),
    ("started_at", ["sweep", "resnet", "vgg", "notebook", "eval"]),
    ("-started_at", ["notebook", "vgg", "resnet", "sweep", "eval"]),
    ("duration", ["vgg", "resnet", "sweep", "eval", "notebook"]),
    ("-duration", ["resnet", "vgg", "sweep", "eval", "notebook"]),
    ("status, -duration", ["vgg", "eval", "sweep", "notebook", "resnet"]),
    ("-status,created_at", ["resnet", "sweep", "notebook", "eval", "vgg"]),
    ("metrics.loss", ["resnet", "vgg", "sweep", "eval", "notebook"]),
    ("-metrics.loss", ["vgg", "resnet", "sweep", "eval", "notebook"]),
    ("-metrics.accuracy", ["eval", "resnet", "vgg", "sweep", "notebook"]),
    ("inputs.lr", ["resnet", "vgg", "eval", "sweep", "notebook"]),
    ("-inputs.lr", ["vgg", "resnet", "eval", "sweep", "notebook"]),
    ("params.use_gpu", ["notebook", "vgg", "resnet", "sweep", "eval"]),
    ("-outputs.size, uuid", ["resnet", "sweep", "vgg", "eval", "notebook"]),
    ("-uid", ["notebook", "eval", "vgg", "resnet", "sweep"]),
]


@pytest.mark.parametrize(("sort", "expected"), SORTS)
def test_sort_puts_missing_values_last_in_both_directions(
    population: Population, sort: str, expected: list[str]
) -> None:
    assert population.ordered(sort) == expected


def test_sort_applies_after_the_query(population: Population) -> None:
    assert population.ordered("-metrics.loss", query="kind:job") == ["vgg", "resnet", "eval"]


def test_sort_accepts_parsed_keys(population: Population) -> None:
    keys = (SortKey(field="metrics", key="accuracy", descending=False),)
    assert population.ordered(keys) == ["vgg", "resnet", "eval", "sweep", "notebook"]


def test_parse_sort_reads_direction_fields_and_aliases() -> None:
    assert parse_sort(" -created_at , metrics.loss,params.lr,id") == (
        SortKey(field="created_at", key=None, descending=True),
        SortKey(field="metrics", key="loss", descending=False),
        SortKey(field="inputs", key="lr", descending=False),
        SortKey(field="uuid", key=None, descending=False),
    )
