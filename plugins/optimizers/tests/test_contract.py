"""The core's OptimizerContract fails optimizers that break the orchestrator's rules."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BROKEN_OPTIMIZERS = textwrap.dedent(
    """
    import os

    import pytest

    from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion
    from polyaxon_core.testing import OptimizerContract
    from polyaxon_optimizers.grid import GridOptimizer


    class Forgetful(GridOptimizer):
        # Ignores the history: hands out the first indexes again and again.
        def suggest(self, trials, slots):
            return super().suggest([], slots)


    class Unseeded(GridOptimizer):
        # Mixes fresh entropy into its answer: a restart would see other suggestions.
        def suggest(self, trials, slots):
            return [
                Suggestion(s.params, {**s.meta, "draw": os.urandom(8).hex()})
                for s in super().suggest(trials, slots)
            ]


    class Greedy(GridOptimizer):
        # Ignores slots.
        def suggest(self, trials, slots):
            return super().suggest(trials, self.planned)


    class Drifting(GridOptimizer):
        # Suggests values outside the matrix.
        def configuration(self, index):
            return {name: 1e9 for name in self.matrix.params}


    class BaseContract(OptimizerContract):
        max_trials = 50

        @pytest.fixture
        def matrix(self):
            return MatrixConfig(kind="grid", params={
                "x": ParamDistribution("range", {"start": 0, "stop": 20, "step": 1}),
            })


    class TestForgetful(BaseContract):
        @pytest.fixture
        def optimizer_class(self):
            return Forgetful


    class TestUnseeded(BaseContract):
        @pytest.fixture
        def optimizer_class(self):
            return Unseeded


    class TestGreedy(BaseContract):
        @pytest.fixture
        def optimizer_class(self):
            return Greedy


    class TestDrifting(BaseContract):
        @pytest.fixture
        def optimizer_class(self):
            return Drifting
    """
)


def failed_tests(tmp_path: Path) -> set[str]:
    (tmp_path / "test_broken.py").write_text(BROKEN_OPTIMIZERS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "test_broken.py", "-q", "-rf", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    return {
        line.split()[1].split("::", 1)[1].split(" ")[0]
        for line in result.stdout.splitlines()
        if line.startswith("FAILED ")
    }


def test_the_contract_catches_each_broken_rule(tmp_path: Path) -> None:
    failed = failed_tests(tmp_path)
    expected = {
        # Subclasses of a registered class are not what the entry point registers.
        *(f"Test{name}::test_is_registered_by_name_through_entry_points"
          for name in ("Forgetful", "Unseeded", "Greedy", "Drifting")),
        "TestForgetful::test_never_suggests_an_index_already_in_the_history",
        "TestForgetful::test_a_restarted_optimizer_continues_without_repeats",
        "TestForgetful::test_indexes_are_integers_unique_within_the_sweep",
        "TestForgetful::test_a_simulated_sweep_ends_done",
        "TestUnseeded::test_same_matrix_and_trials_give_the_same_suggestions",
        "TestUnseeded::test_a_restarted_optimizer_continues_without_repeats",
        "TestGreedy::test_a_fresh_sweep_suggests_between_one_and_slots[1]",
        "TestGreedy::test_a_fresh_sweep_suggests_between_one_and_slots[2]",
        "TestDrifting::test_suggestions_cover_exactly_the_params_with_values_in_their_distributions",
    }
    assert expected <= failed, sorted(expected - failed)
