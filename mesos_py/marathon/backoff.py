"""Launch backoff per app configuration, as Marathon's rate limiter keeps it.

The first failure delays the next launch by ``backoffSeconds``; each later one
multiplies the delay by ``backoffFactor``, capped at ``maxLaunchDelaySeconds``.
A new configuration (another ``lastConfigChangeAt``) starts with no delay;
a task killed on purpose is no failure.  Times are plain seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAILED_STATES = frozenset(
    {"TASK_FAILED", "TASK_FINISHED", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"}
)


@dataclass
class Delay:
    seconds: float
    reference: float

    @property
    def deadline(self) -> float:
        return self.reference + self.seconds


class LaunchBackoff:
    """Delays keyed by (app id, configuration version)."""

    def __init__(self) -> None:
        self._delays: dict[tuple[str, str], Delay] = {}

    @staticmethod
    def _key(app: dict[str, Any]) -> tuple[str, str]:
        return app["id"], config_version(app)

    def failed(self, app: dict[str, Any], now: float) -> None:
        """A task of ``app`` failed at ``now``: lengthen the delay."""
        key = self._key(app)
        cap = float(app["maxLaunchDelaySeconds"])
        current = self._delays.get(key)
        if current is None or now > current.deadline + cap:
            seconds = min(float(app["backoffSeconds"]), cap)
        else:
            seconds = min(current.seconds * float(app["backoffFactor"]), cap)
        self._delays[key] = Delay(seconds, now)

    def launch_at(self, app: dict[str, Any]) -> float:
        """The earliest time a task of ``app`` may launch (0: any time)."""
        delay = self._delays.get(self._key(app))
        return delay.deadline if delay else 0.0

    def time_left(self, app: dict[str, Any], now: float) -> float:
        return max(0.0, self.launch_at(app) - now)

    def reset(self, app_id: str) -> None:
        """Forget every delay of ``app_id`` (``DELETE /v2/queue/{app}/delay``, app removed)."""
        for key in [k for k in self._delays if k[0] == app_id]:
            del self._delays[key]

    def expire(self, now: float, max_delays: dict[str, float]) -> None:
        """Drop delays whose app is gone or whose deadline passed by more than the cap."""
        for key, delay in list(self._delays.items()):
            cap = max_delays.get(key[0])
            if cap is None or now > delay.deadline + cap:
                del self._delays[key]


def config_version(app: dict[str, Any]) -> str:
    """The version of the app's configuration (a scale or restart keeps it)."""
    info = app.get("versionInfo") or {}
    return info.get("lastConfigChangeAt") or app.get("version", "")
