"""Fixtures shared by the optimizer tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from polyaxon_core.entities import Suggestion, Trial


@pytest.fixture
def make_trials() -> Callable[..., list[Trial]]:
    """Turn suggestions into the trials the orchestrator would store for them.

    ``make_trials(suggestions, status="running", metrics=None)``; ``metrics`` maps an
    index to that trial's metrics.
    """

    def make(
        suggestions: Sequence[Suggestion],
        status: str = "running",
        metrics: dict[int, dict[str, float]] | None = None,
    ) -> list[Trial]:
        return [
            Trial(
                index=suggestion.meta["index"],
                params=dict(suggestion.params),
                status=status,
                metrics=(metrics or {}).get(suggestion.meta["index"], {}),
                meta=dict(suggestion.meta),
                run_uuid=f"run-{suggestion.meta['index']}",
            )
            for suggestion in suggestions
        ]

    return make
