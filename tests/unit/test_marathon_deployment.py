"""Deployment planning and convergence (mesos_py.marathon.deployment), pure."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mesos_py.marathon.deployment import (
    LiveTask,
    converge,
    is_complete,
    plan_steps,
    restart_bounds,
)


def tasks(generation: str, count: int, ready: bool = True, start: int = 0) -> list[LiveTask]:
    return [
        LiveTask(f"{generation}-{i}", generation, ready, started=i)
        for i in range(start, start + count)
    ]


def test_plan_steps_name_marathons_actions():
    app = {"id": "/a"}
    assert plan_steps(None, app, False) == [
        [{"action": "StartApplication", "app": "/a"}],
        [{"action": "ScaleApplication", "app": "/a"}],
    ]
    assert plan_steps(app, app, True) == [[{"action": "ScaleApplication", "app": "/a"}]]
    assert plan_steps(app, app, False) == [[{"action": "RestartApplication", "app": "/a"}]]
    assert plan_steps(app, None, False) == [[{"action": "StopApplication", "app": "/a"}]]


def test_restart_bounds_follow_marathons_examples():
    assert restart_bounds(3, 1.0, 1.0) == (3, 6)
    assert restart_bounds(3, 0.0, 0.0) == (0, 3)
    # minHealthy == maxCapacity: one extra instance, or nothing could ever move.
    assert restart_bounds(3, 0.7, 0.0) == (3, 4)
    assert restart_bounds(10, 0.5, 0.2) == (5, 12)


def test_scaling_launches_or_kills_the_youngest_first():
    assert converge(5, "g1", tasks("g1", 3)).launch == 2
    decision = converge(2, "g1", tasks("g1", 4))
    assert decision.launch == 0 and decision.kill == ["g1-3", "g1-2"]
    oldest = converge(2, "g1", tasks("g1", 4), youngest_first=False)
    assert oldest.kill == ["g1-0", "g1-1"]


def test_scale_down_kills_tasks_not_ready_before_ready_ones():
    live = [*tasks("g1", 2), LiveTask("staging", "g1", ready=False, started=0)]
    assert converge(2, "g1", live).kill == ["staging"]


def test_killing_tasks_are_not_counted_as_instances():
    live = [*tasks("g1", 2), LiveTask("going", "g1", True, killing=True)]
    assert converge(3, "g1", live).launch == 1


def test_default_strategy_starts_all_new_then_replaces_one_by_one():
    old = tasks("g1", 3)
    first = converge(3, "g2", old)
    assert first.kill == [] and first.launch == 3
    one_ready = old + tasks("g2", 1) + tasks("g2", 2, ready=False, start=1)
    assert len(converge(3, "g2", one_ready).kill) == 1


def test_zero_capacities_kill_everything_first():
    decision = converge(3, "g2", tasks("g1", 3), 0.0, 0.0)
    assert len(decision.kill) == 3 and decision.launch == 0  # capacity is still held
    assert converge(3, "g2", [], 0.0, 0.0).launch == 3


def test_complete_only_with_exactly_the_target_of_ready_current_tasks():
    assert is_complete(2, "g2", tasks("g2", 2))
    assert not is_complete(2, "g2", tasks("g2", 2) + tasks("g1", 1))
    assert not is_complete(2, "g2", tasks("g2", 2, ready=False))


@settings(max_examples=100, deadline=None)
@given(
    instances=st.integers(0, 12),
    old_count=st.integers(0, 12),
    min_health=st.sampled_from([0.0, 0.25, 0.5, 0.7, 1.0]),
    max_over=st.sampled_from([0.0, 0.1, 0.34, 0.5, 1.0]),
    events=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=60, max_size=60),
)
def test_a_rolling_restart_keeps_its_bounds_and_finishes(
    instances, old_count, min_health, max_over, events
):
    """Replay a restart with tasks ending and becoming ready in random order."""
    min_healthy, max_capacity = restart_bounds(instances, min_health, max_over)
    live = tasks("old", old_count)
    counter = 0
    for finish_kill, make_ready in events:
        ready_before = sum(1 for t in live if t.ready and not t.killing)
        size_before = len(live)
        decision = converge(instances, "new", live, min_health, max_over)
        doomed = set(decision.kill)
        live = [
            LiveTask(t.task_id, t.generation, t.ready, t.task_id in doomed or t.killing)
            for t in live
        ]
        for _ in range(decision.launch):
            counter += 1
            live.append(LiveTask(f"new-{counter}", "new", False, started=counter))
        ready_after = sum(1 for t in live if t.ready and not t.killing)
        assert ready_after >= min(min_healthy, ready_before)
        assert len(live) <= max(max_capacity, size_before)
        # The world moves on: a killed task ends, a new one becomes ready.
        if finish_kill:
            live = [t for t in live if not t.killing] + [t for t in live if t.killing][1:]
        if make_ready:
            for index, t in enumerate(live):
                if not t.ready and not t.killing:
                    live[index] = LiveTask(t.task_id, t.generation, True, False, t.started)
                    break
    # With every pending transition done, the restart converges.
    for _ in range(4 * (instances + old_count) + 4):
        decision = converge(instances, "new", live, min_health, max_over)
        doomed = set(decision.kill)
        live = [t for t in live if not t.killing and t.task_id not in doomed]
        live = [LiveTask(t.task_id, t.generation, True, False, t.started) for t in live]
        for _ in range(decision.launch):
            counter += 1
            live.append(LiveTask(f"new-{counter}", "new", True, started=counter))
    assert is_complete(instances, "new", live)
