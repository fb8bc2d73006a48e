"""Reliable, ordered delivery of task status updates to the master (pure logic).

Each task's updates form a stream in the order they happened.  Only the head
of a stream is outstanding: it is re-sent with exponential backoff until the
master relays the framework's acknowledgement, and only then does the next
update of that task go out.  Nothing here does I/O: the caller supplies a
``send`` function and a clock (``IReactorTime``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from mesos_py.common.protocol import TERMINAL_STATES

STATUS_UPDATE_RETRY_INTERVAL_MIN = 10.0
STATUS_UPDATE_RETRY_INTERVAL_MAX = 600.0

Send = Callable[[str, dict], None]


@dataclass
class _Stream:
    framework_id: str
    task_id: str
    pending: deque[dict] = field(default_factory=deque)
    uuids: set[str] = field(default_factory=set)
    terminated: bool = False
    interval: float = 0.0
    timer: IDelayedCall | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


class StatusUpdateManager:
    """Per-task update streams; ``send(framework_id, status)`` is called for each (re)send."""

    def __init__(
        self,
        clock: IReactorTime,
        send: Send,
        min_interval: float = STATUS_UPDATE_RETRY_INTERVAL_MIN,
        max_interval: float = STATUS_UPDATE_RETRY_INTERVAL_MAX,
    ) -> None:
        self._clock = clock
        self._send = send
        self._min = min_interval
        self._max = max(max_interval, min_interval)
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._paused = True

    def update(self, framework_id: str, status: dict) -> bool:
        """Add an update to its task's stream.

        False (and nothing queued) for a duplicate uuid or for an update that
        follows the task's terminal update.
        """
        task_id = status["task_id"]["value"]
        key = (framework_id, task_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(framework_id, task_id)
        if stream.terminated or status["uuid"] in stream.uuids:
            return False
        stream.uuids.add(status["uuid"])
        stream.terminated = status["state"] in TERMINAL_STATES
        stream.pending.append(status)
        if len(stream.pending) == 1:
            self._send_head(stream)
        return True

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> dict | None:
        """Pop the acknowledged head; the acknowledged status, or None if stale/unknown."""
        stream = self._streams.get((framework_id, task_id))
        if stream is None or not stream.pending or stream.pending[0]["uuid"] != uuid:
            return None
        stream.cancel_timer()
        acknowledged = stream.pending.popleft()
        if stream.pending:
            self._send_head(stream)
        elif stream.terminated:
            del self._streams[(framework_id, task_id)]
        return acknowledged

    def pause(self) -> None:
        """Stop sending (the master link is down); updates keep queueing."""
        self._paused = True
        for stream in self._streams.values():
            stream.cancel_timer()

    def resume(self) -> None:
        """Send every stream's head again now (the master link is back)."""
        self._paused = False
        for stream in list(self._streams.values()):
            if stream.pending:
                self._send_head(stream)

    def forget_framework(self, framework_id: str) -> None:
        """Drop a removed framework's streams: no acknowledgement will ever come."""
        for key in [key for key in self._streams if key[0] == framework_id]:
            self._streams.pop(key).cancel_timer()

    def forget_all(self) -> None:
        for stream in self._streams.values():
            stream.cancel_timer()
        self._streams.clear()

    def unacknowledged(self) -> list[tuple[str, dict]]:
        """Every queued update as ``(framework_id, status)``, heads first per task."""
        return [
            (stream.framework_id, status)
            for stream in self._streams.values()
            for status in stream.pending
        ]

    def _send_head(self, stream: _Stream) -> None:
        stream.cancel_timer()
        if self._paused:
            return
        stream.interval = self._min
        self._send(stream.framework_id, stream.pending[0])
        stream.timer = self._clock.callLater(stream.interval, self._retry, stream)

    def _retry(self, stream: _Stream) -> None:
        stream.timer = None
        if self._paused or not stream.pending:
            return
        stream.interval = min(stream.interval * 2, self._max)
        self._send(stream.framework_id, stream.pending[0])
        stream.timer = self._clock.callLater(stream.interval, self._retry, stream)
