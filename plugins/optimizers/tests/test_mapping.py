"""Mapping: one trial per entry of an explicit list, in order."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from polyaxon_optimizers.mapping import MappingOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract

MakeTrials = Callable[..., list[Trial]]

VALUES = [
    {"lr": 0.001, "dropout": 0.1, "optimizer": "adam"},
    {"lr": 0.01, "dropout": 0.2, "optimizer": "sgd"},
    {"lr": 0.1, "dropout": 0.3, "optimizer": "adam"},
    {"lr": 0.01, "dropout": 0.5, "optimizer": "rmsprop"},
    {"lr": 0.05, "dropout": 0.0, "optimizer": "sgd"},
]


def mapping(values: object = VALUES, **fields: object) -> MatrixConfig:
    options = {"values": values}
    return MatrixConfig(kind="mapping", params={}, options=options, **fields)  # type: ignore[arg-type]


class TestMappingContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[MappingOptimizer]:
        return MappingOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return MatrixConfig(
            kind="mapping", params={}, concurrency=2,
            options={"values": VALUES, "metric": {"name": "loss", "optimization": "minimize"}},
        )

    @pytest.fixture
    def search_space(self, matrix: MatrixConfig) -> Mapping[str, ParamDistribution]:
        # Each param takes one of the values listed for it.
        values = matrix.options["values"]
        return {name: ParamDistribution("choice", [row[name] for row in values])
                for name in values[0]}


def test_runs_the_values_in_order(make_trials: MakeTrials) -> None:
    optimizer = MappingOptimizer(mapping())
    first = optimizer.suggest([], 2)
    rest = optimizer.suggest(make_trials(first), 10)
    assert [s.params for s in first + rest] == VALUES
    assert [s.meta["index"] for s in first + rest] == [0, 1, 2, 3, 4]


def test_entries_may_have_different_params() -> None:
    values = [{"model": "tree", "depth": 3}, {"model": "linear", "alpha": 0.5}]
    assert [s.params for s in MappingOptimizer(mapping(values)).suggest([], 5)] == values


def test_repeated_entries_are_separate_trials() -> None:
    values = [{"seed": 1}, {"seed": 1}]
    assert len(MappingOptimizer(mapping(values)).suggest([], 5)) == 2


def test_suggestions_do_not_share_the_matrix_values() -> None:
    optimizer = MappingOptimizer(mapping([{"layers": [64, 32]}]))
    optimizer.suggest([], 1)[0].params["layers"].append(16)  # type: ignore[attr-defined]
    assert optimizer.suggest([], 1)[0].params == {"layers": [64, 32]}


def test_done_once_every_entry_ran(make_trials: MakeTrials) -> None:
    optimizer = MappingOptimizer(mapping())
    suggestions = optimizer.suggest([], 10)
    assert not optimizer.is_done(make_trials(suggestions[:4], "succeeded"))
    assert not optimizer.is_done(
        make_trials(suggestions[:4], "succeeded") + make_trials(suggestions[4:], "running")
    )
    assert optimizer.is_done(
        make_trials(suggestions[:4], "succeeded") + make_trials(suggestions[4:], "stopped")
    )


def test_a_restart_continues_with_the_next_entries(make_trials: MakeTrials) -> None:
    history = make_trials(MappingOptimizer(mapping()).suggest([], 3), "succeeded")
    rest = MappingOptimizer(mapping()).suggest(history, 10)
    assert [s.params for s in rest] == VALUES[3:]


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (mapping(None), "needs 'values': a non-empty list"),
        (mapping([]), "needs 'values': a non-empty list"),
        (mapping({"lr": [0.1, 0.2]}), "needs 'values': a non-empty list"),
        (mapping([{"lr": 0.1}, ["lr", 0.2]]), "values\\[1\\] must be a mapping"),
        (mapping([{1: 0.1}]), "values\\[0\\] must be a mapping of param names"),
        (mapping([{"lr": float("nan")}]), "values\\[0\\] is not plain JSON"),
        (mapping([{"when": object()}]), "values\\[0\\] is not plain JSON"),
        (mapping(num_runs=2), "num_runs does not apply"),
        (MatrixConfig(kind="mapping", params={"lr": ParamDistribution("choice", [1])},
                      options={"values": VALUES}), "not from params \\(lr\\)"),
    ],
)
def test_rejects_matrices_it_cannot_run(matrix: MatrixConfig, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        MappingOptimizer(matrix)
