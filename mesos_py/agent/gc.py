"""Sandbox garbage collection: finished run directories go after ``--gc_delay``, sooner when
the disk fills.

Every ``--disk_watch_interval`` the agent measures disk usage and removes the
scheduled paths that are due within ``gc_delay - max_allowed_age``, where the
allowed age shrinks linearly as usage climbs towards ``1 - gc_disk_headroom``
(Mesos' rule).  Bookkeeping and the rule are pure; removing is injected.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime


def max_allowed_age(gc_delay: float, headroom: float, disk_usage: float) -> float:
    """How old a finished sandbox may get at this disk usage (a fraction in [0, 1])."""
    return gc_delay * max(0.0, 1.0 - headroom - disk_usage)


class GarbageCollector:
    """Paths with the time they become removable; ``collect`` removes what is due."""

    def __init__(self, clock: IReactorTime, gc_delay: float, remove: Callable[[str], None]) -> None:
        self._clock = clock
        self.gc_delay = gc_delay
        self._remove = remove
        self._due: dict[str, float] = {}
        self.allowed_age = gc_delay
        self.succeeded = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        return len(self._due)

    def schedule(self, path: str, age: float = 0.0) -> None:
        """Remove ``path`` once it is ``gc_delay`` old (it is ``age`` old now)."""
        self._due[path] = self._clock.seconds() + max(0.0, self.gc_delay - age)

    def unschedule(self, path: str) -> None:
        self._due.pop(path, None)

    def collect(self, disk_usage: float, headroom: float) -> list[str]:
        """Remove every path due within ``gc_delay - allowed_age``; the paths removed."""
        self.allowed_age = max_allowed_age(self.gc_delay, headroom, disk_usage)
        horizon = self._clock.seconds() + (self.gc_delay - self.allowed_age)
        removed = []
        for path, due in sorted(self._due.items(), key=lambda item: item[1]):
            if due > horizon:
                break
            del self._due[path]
            try:
                self._remove(path)
            except OSError:
                self.failed += 1
                continue
            self.succeeded += 1
            removed.append(path)
        return removed
