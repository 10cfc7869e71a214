"""kind: iterative with a tuner from an installed plugin: the one in examples/iterative-plugin.

The example distribution is pip-installed into a throw-away folder (the shared virtual
environment is not touched) and found through its entry point, in this process and by
the real `polyaxon` executable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from polyaxon_optimizers import space
from polyaxon_optimizers.iterative import IterativeOptimizer

from polyaxon_core.config import Settings
from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.plugins import PluginManager, build_plugin_manager
from polyaxon_core.spec import read_polyaxonfile
from polyaxon_core.testing import OptimizerContract, install_distribution
from polyaxon_core.testing.optimizer import Containment
from tests.conftest import polyaxon_home  # noqa: F401 - a fixture `home` needs
from tests.orchestrator.conftest import Cli, cli, home, wait_final  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "iterative-plugin"
PACKAGE = "polyaxon_evolution_tuner"


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed example distribution, built from a copy of its source."""
    return install_distribution(EXAMPLE, tmp_path_factory.mktemp("evolution"))


@pytest.fixture
def with_example(
    example_site: Path, monkeypatch: pytest.MonkeyPatch, polyaxon_settings: Settings
) -> Iterator[PluginManager]:
    """The example importable and the process-wide plugin manager one that found it."""
    monkeypatch.syspath_prepend(str(example_site))
    manager = build_plugin_manager(polyaxon_settings)
    monkeypatch.setattr("polyaxon_core.plugins.get_plugin_manager", lambda: manager)
    yield manager
    for module in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[module]


def example_matrix() -> MatrixConfig:
    spec = read_polyaxonfile(EXAMPLE / "polyaxonfile.yaml")
    assert spec.matrix is not None
    return spec.matrix


class TestIterativeWithTheExampleTunerContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[IterativeOptimizer]:
        return IterativeOptimizer

    @pytest.fixture
    def matrix(self, with_example: PluginManager) -> MatrixConfig:
        return example_matrix()

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


def test_the_installed_tuner_is_found_by_the_name_in_tuner_hub_ref(with_example: PluginManager) -> None:
    optimizer = IterativeOptimizer(example_matrix())

    assert type(optimizer.tuner).__module__ == f"{PACKAGE}.tuner"
    assert optimizer.tuner.params == {
        "metric": "loss", "optimization": "minimize", "population": 4, "parents": 2, "mutation": 0.5,
    }
    assert [info.distribution for info in with_example.plugins if info.name == "optimizer-evolution"] == [
        "polyaxon-evolution-tuner"
    ]


def test_the_examples_own_tests_pass_against_the_installed_distribution(example_site: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(example_site)},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout.splitlines()[-1]


def test_an_iterative_sweep_runs_the_example_tuner_through_the_cli(
    cli: Cli, example_site: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(example_site))
    plugins = {plugin["name"]: plugin for plugin in json.loads(cli("plugins", "list", "-o", "json").stdout)}
    assert plugins["optimizer-evolution"]["contributes"] == {
        "optimizer": {"evolution": "Evolutionary search: mutate the best trials of earlier iterations."}
    }
    uuid = json.loads(cli("run", "-f", str(EXAMPLE / "polyaxonfile.yaml"), "-o", "json").stdout)["uuid"]

    assert wait_final(uuid, timeout=300)["status"] == "succeeded"
    sweep = json.loads(cli("ops", "get", uuid, "-o", "json").stdout)
    trials = sorted(sweep["trials"], key=lambda trial: trial["index"])
    assert [(t["index"], t["status"]) for t in trials] == [(i, "succeeded") for i in range(12)]

    # Replay: given the same history, the tuner proposes exactly what the sweep ran.
    monkeypatch.syspath_prepend(str(example_site))
    from polyaxon_evolution_tuner.tuner import EvolutionTuner

    tuner = EvolutionTuner(example_matrix())
    history = [
        Trial(t["index"], t["params"], t["status"], t["metrics"], {"iteration": t["index"] // 4,
                                                                    "iteration_size": 4})
        for t in trials
    ]
    for iteration in range(3):
        proposed = tuner.suggest(history[: 4 * iteration], 4)
        assert [s.params for s in proposed] == [t["params"] for t in trials[4 * iteration: 4 * iteration + 4]]
    assert tuner.suggest(history, 4) == [] and tuner.is_done(history)

    described = sweep["meta_info"]["optimizer"]
    best = min(trials, key=lambda t: t["metrics"]["loss"])
    assert {k: described[k] for k in ("kind", "tuner", "planned", "iteration", "max_iterations")} == {
        "kind": "iterative", "tuner": "evolution", "planned": None, "iteration": 2, "max_iterations": 3,
    }
    assert described["best"]["index"] == best["index"]
    assert described["best"]["value"] == best["metrics"]["loss"]
    for module in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[module]


def test_the_sweep_is_refused_at_submission_when_the_tuner_is_not_installed(cli: Cli) -> None:  # noqa: F811
    result = cli("run", "-f", str(EXAMPLE / "polyaxonfile.yaml"), check=False)

    assert result.returncode == 1
    assert "matrix tuner.hubRef: no tuner named 'evolution'; installed: none installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_parameter_distributions_of_the_example_are_the_ones_it_searches() -> None:
    assert example_matrix().params == {
        "lr": ParamDistribution("loguniform", {"low": -9.21, "high": -2.3}),
        "momentum": ParamDistribution("uniform", {"low": 0.5, "high": 0.99}),
        "activation": ParamDistribution("choice", ["relu", "tanh"]),
    }
