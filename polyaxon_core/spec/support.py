"""Sections of a polyaxonfile this version reads and validates but does not act on yet.

A file using them is valid (``polyaxon check`` keeps agreeing with the official client,
and warns), but submitting it is refused with these sentences: a run that silently
skipped its build, its hooks or its schedule would look like it did what the file says.
"""

from __future__ import annotations

from polyaxon_core.spec.models import OperationSpec


def unsupported_features(spec: OperationSpec) -> list[str]:
    """One sentence per section of ``spec`` that would not act here, saying what would be
    lost and what to do instead; empty when everything in ``spec`` acts."""
    found = []
    if spec.build:
        found.append(
            "`build` does not act yet: no image would be built before the run; build the "
            "image beforehand, name it in the container and remove `build`"
        )
    if spec.hooks:
        found.append(
            "`hooks` do not act yet: nothing would be called when the run's status changes; "
            "remove `hooks`"
        )
    if spec.schedule:
        found.append(
            "`schedule` does not act yet: the operation would run once, now, not on its "
            "schedule; remove `schedule` and start each run with `polyaxon run`"
        )
    if spec.run_kind == "dag":
        found.append(
            "`run.kind: dag` does not act yet: DAG pipelines are not executed; run its "
            "operations one by one"
        )
    if spec.run_kind == "service":
        found.append(
            "`run.kind: service` does not act yet: its ports would not be served; use "
            "`run.kind: job` for a container that runs to completion"
        )
    return found
