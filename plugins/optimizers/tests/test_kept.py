"""The cache optimizers keep between calls."""

from __future__ import annotations

from polyaxon_optimizers.base import Kept


def test_the_least_recently_used_value_is_dropped_first() -> None:
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == (True, 1)  # "b" is now the least recently used
    kept.put("c", 3)
    assert kept.get("b") == (False, None)
    assert kept.put("a", 10) == 1  # a kept value is not replaced


def test_get_many_answers_in_order_and_counts_as_use() -> None:
    kept: Kept[str, int] = Kept(3)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        kept.put(key, value)
    assert kept.get_many(["c", "x", "a"]) == [(True, 3), (False, None), (True, 1)]
    kept.put("d", 4)  # "b", untouched by get_many, goes
    assert kept.get_many(["a", "b", "c", "d"]) == [(True, 1), (False, None), (True, 3), (True, 4)]
