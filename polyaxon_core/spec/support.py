"""Sections of a polyaxonfile this version reads and validates but does not act on yet.

Each of them changes what a run does or when it starts (events, a cache, an approval,
culling an idle service it cannot probe). A
file using them is valid (``polyaxon check`` keeps agreeing with the official client, and
warns), but submitting it is refused with these sentences: a run that silently skipped
its events would look like it did what the file says.
"""

from __future__ import annotations

from polyaxon_core.spec.models import OperationSpec

#: initializers that do not act yet, and what to write instead
UNSUPPORTED_INIT = {
    "lineageRef": "the lineage would not be looked up; copy the artifact with "
                  "`paths: [<run uuid>/<path>]`",
    "modelRef": "the model would not be looked up; copy it with `paths: [<run uuid>/<path>]`",
    "artifactRef": "the artifact would not be looked up; copy it with "
                   "`paths: [<run uuid>/<path>]`",
}


def unsupported_features(spec: OperationSpec) -> list[str]:
    """One sentence per section of ``spec`` that would not act here, saying what would be
    lost and what to do instead; empty when everything in ``spec`` acts."""
    found = []
    if spec.events:
        found.append(
            "`events` do not act yet: the operation would run now, not when the events "
            "happen; remove `events` and start it when you need it"
        )
    if spec.cache and not spec.cache.get("disable"):
        found.append(
            "`cache` does not act yet: the run would execute again rather than reuse an "
            "earlier run's outputs; remove `cache` or set `cache.disable: true`"
        )
    if spec.is_approved is False:
        found.append(
            "`isApproved: false` does not act yet: the run would start without waiting for "
            "an approval; remove it"
        )
    termination = spec.termination
    if termination is not None and termination.culling_timeout is not None:
        if spec.run_kind != "service":
            found.append(f"`termination.culling` stops idle services; this run is a "
                         f"`{spec.run_kind}`: remove it, or use `termination.timeout`")
        elif not (termination.probe or {}).get("http"):
            found.append("`termination.culling` needs `termination.probe.http` (its `path` "
                         "and `port`) to tell whether the service is in use, e.g. Jupyter's "
                         "`{path: '{{ globals.base_url }}/api/status', port: 8888}`")
    if termination is not None and (termination.probe or {}).get("exec") is not None:
        found.append("`termination.probe.exec` does not act yet: use `termination.probe.http`")
    for index, init in enumerate(spec.run.get("init") or []):
        for key, instead in UNSUPPORTED_INIT.items():
            if init.get(key) is not None:
                found.append(f"`run.init[{index}].{key}` does not act yet: {instead}")
    for operation in spec.dag_operations:
        found += [f"operation `{operation.name}`: {sentence}"
                  for sentence in unsupported_features(operation)]
    return found
