"""The quick-start's polyaxonfiles stay valid, and its sweeps stay comparable."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyaxon_core.plugins import get_plugin_manager
from polyaxon_core.spec import read_polyaxonfile

QUICK_START = Path(__file__).resolve().parent.parent / "examples" / "quick-start"


@pytest.mark.parametrize("name", sorted(p.name for p in QUICK_START.glob("*.yaml")))
def test_every_quick_start_file_is_a_valid_polyaxonfile(name: str) -> None:
    spec = read_polyaxonfile(QUICK_START / name)
    assert spec.component is not None
    assert "epochs" in {io.name for io in spec.component.inputs}


def test_the_hyperband_sweep_searches_the_random_sweeps_space_with_table_1() -> None:
    random = read_polyaxonfile(QUICK_START / "sweep-random.yaml").matrix
    hyperband = read_polyaxonfile(QUICK_START / "sweep-hyperband.yaml").matrix
    assert random is not None and hyperband is not None
    # the benchmark compares them: same space, epochs left to the resource
    assert hyperband.params == random.params
    assert "epochs" not in hyperband.params

    optimizer = get_plugin_manager().get("optimizer", "hyperband")(hyperband)
    state = optimizer.describe([])
    assert state["planned"] == 206
    assert [(b["configurations"], b["rungs"][0]["resource"]) for b in state["brackets"]] == [
        (81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
