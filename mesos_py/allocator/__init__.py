"""The allocator: who is offered which agent's free resources, and when."""

from mesos_py.allocator.drf import (
    DEFAULT_MIN_ALLOCATABLE,
    DEFAULT_REFUSE_SECONDS,
    MAX_REFUSE_SECONDS,
    Allocation,
    AllocatorError,
    AllocatorStats,
    DRFAllocator,
    effective_refuse_seconds,
    parse_min_allocatable,
)

__all__ = [
    "DEFAULT_MIN_ALLOCATABLE",
    "DEFAULT_REFUSE_SECONDS",
    "MAX_REFUSE_SECONDS",
    "Allocation",
    "AllocatorError",
    "AllocatorStats",
    "DRFAllocator",
    "effective_refuse_seconds",
    "parse_min_allocatable",
]
