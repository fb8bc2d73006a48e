"""Garbage-collector settings for the long-running daemons.

A master holding 10,000 tasks keeps hundreds of thousands of small containers
alive, and CPython's default thresholds (700, 10, 10) run a collection every
700 net allocations: re-registering 1,000 agents after a failover spent about
a third of its CPU in the collector (bench/master_reregistration.py: 0.63 s
with the defaults, growing with the heap, 0.49 s stable with these).  Almost
nothing the daemons allocate forms reference cycles, so reference counting
frees it; the collector only has to run rarely.
"""

from __future__ import annotations

import gc

# The youngest generation is collected after this many net allocations.
YOUNG_THRESHOLD = 10_000


def tune_for_daemon() -> None:
    """Collect less often; call before building the daemon's state."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_startup_objects() -> None:
    """Exclude what start-up allocated (modules, classes, config) from later full collections."""
    gc.collect()
    gc.freeze()
