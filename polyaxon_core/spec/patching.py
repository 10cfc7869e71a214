"""Merging one spec into another with Polyaxon's patch strategies.

Used for an operation's ``runPatch`` (applied to its component's ``run``) and for the
extra ``-f`` files of ``polyaxon check``/``run`` (applied to the operation). Field
positions are merged too, so a problem in the result still points to the file and line
that wrote the field.

Strategies, key by key at the top level:

* ``post_merge`` (default): mappings merge recursively, lists are concatenated (base
  first), scalars from the patch win;
* ``pre_merge``: the same, but lists put the patch first and scalars from the base win;
* ``replace``: a key of the patch replaces the base's value entirely;
* ``isnull``: a key of the patch is used only where the base has no value.
"""

from __future__ import annotations

from typing import Any

from polyaxon_core.spec.loader import PathKey, Position

PATCH_STRATEGIES = ("replace", "isnull", "post_merge", "pre_merge")
_MISSING = object()

Positions = dict[PathKey, Position]


def patch(
    base: dict[str, Any],
    update: dict[str, Any],
    strategy: str = "post_merge",
    base_positions: Positions | None = None,
    update_positions: Positions | None = None,
) -> tuple[dict[str, Any], Positions]:
    """Merge ``update`` into ``base`` (neither is modified); returns data and positions."""
    merged_positions: Positions = {}
    merger = _Merger(strategy, base_positions or {}, update_positions or {}, merged_positions)
    if () in merger.base_positions:
        merged_positions[()] = merger.base_positions[()]
    result = {
        key: merger.merge(
            base.get(key, _MISSING), update.get(key, _MISSING), (key,), (key,), (key,), top=True
        )
        for key in [*base, *(key for key in update if key not in base)]
    }
    return result, merged_positions


class _Merger:
    def __init__(self, strategy: str, base_positions: Positions, update_positions: Positions, out: Positions):
        self.strategy = strategy
        self.base_positions = base_positions
        self.update_positions = update_positions
        self.out = out

    def merge(
        self,
        base: Any,
        update: Any,
        out_path: PathKey,
        base_path: PathKey,
        update_path: PathKey,
        top: bool = False,
    ) -> Any:
        if update is _MISSING:
            return self._take(base, self.base_positions, base_path, out_path)
        if base is _MISSING or base is None:
            return self._take(update, self.update_positions, update_path, out_path)
        if self.strategy == "replace" or (self.strategy == "isnull" and not top):
            return self._take(update, self.update_positions, update_path, out_path)
        if self.strategy == "isnull":
            return self._take(base, self.base_positions, base_path, out_path)
        if isinstance(base, dict) and isinstance(update, dict):
            position = self.update_positions.get(update_path) or self.base_positions.get(base_path)
            if position:
                self.out[out_path] = position
            return {
                key: self.merge(
                    base.get(key, _MISSING),
                    update.get(key, _MISSING),
                    (*out_path, key),
                    (*base_path, key),
                    (*update_path, key),
                )
                for key in [*base, *(key for key in update if key not in base)]
            }
        if isinstance(base, list) and isinstance(update, list):
            first = (base, self.base_positions, base_path)
            second = (update, self.update_positions, update_path)
            if self.strategy == "pre_merge":
                first, second = second, first
            position = first[1].get(first[2])
            if position:
                self.out[out_path] = position
            items = []
            for offset, (values, positions, path) in ((0, first), (len(first[0]), second)):
                for index, item in enumerate(values):
                    items.append(self._take(item, positions, (*path, index), (*out_path, offset + index)))
            return items
        if self.strategy == "pre_merge":
            return self._take(base, self.base_positions, base_path, out_path)
        return self._take(update, self.update_positions, update_path, out_path)

    def _take(self, value: Any, positions: Positions, source_path: PathKey, out_path: PathKey) -> Any:
        depth = len(source_path)
        for path, position in positions.items():
            if path[:depth] == source_path:
                self.out[out_path + path[depth:]] = position
        return value
