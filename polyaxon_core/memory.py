"""The garbage collector in the long-lived processes (the orchestrator, the supervisor of
local runs).

Once such a process has loaded what it keeps for its whole life (modules, the mappers of
the database layer, the plugins, the statements each pass binds), those objects (about a
hundred thousand) are never freed, yet every full collection of Python's cyclic garbage
collector walks all of them: a pause of tens of milliseconds in the middle of a pass, at
an unforeseeable moment (the collector runs after a count of allocations), and a trip
through memory that leaves the processor's caches cold for what comes next.
:func:`freeze_long_lived` takes them out of the collector's sight (``gc.freeze``): what
the process allocates afterwards is collected as before.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect what is garbage now, then leave everything that survived to the permanent
    generation, which collections never walk."""
    gc.collect()
    gc.freeze()
