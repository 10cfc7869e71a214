"""The garbage collector in the long-lived processes: what they keep for their life is
left out of its walks, and what they allocate afterwards is still collected."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc, weakref
from polyaxon_core.memory import freeze_long_lived

class Node:
    pass

def cycle():
    node = Node()
    node.self = node
    return weakref.ref(node)

kept = [Node() for _ in range(1000)]
before = cycle()  # garbage when the process settles
freeze_long_lived()
print(before() is None, gc.get_freeze_count() >= len(kept))
after = cycle()  # garbage made later
gc.collect()
print(after() is None, sum(1 for item in gc.get_objects() if isinstance(item, Node)))
"""


def test_garbage_is_collected_first_the_survivors_frozen_and_later_garbage_still_collected() -> None:
    # a process of its own: freezing is for the life of a process
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=True)
    settled, later = result.stdout.splitlines()
    assert settled == "True True"  # the cycle collected, not frozen; what was kept frozen
    assert later == "True 0"  # a later cycle collected; frozen objects out of the walks
