"""The status update manager: ordering, head-only sending, retries, acks."""

from twisted.internet.task import Clock

from mesos_py.agent.status_updates import StatusUpdateManager
from mesos_py.common.protocol import new_status_uuid


def status(task_id, state="TASK_RUNNING"):
    return {"task_id": {"value": task_id}, "state": state, "uuid": new_status_uuid()}


def make(min_interval=10.0, max_interval=600.0):
    clock = Clock()
    sent = []
    manager = StatusUpdateManager(
        clock, lambda fid, s: sent.append((fid, s)), min_interval, max_interval
    )
    manager.resume()
    return clock, sent, manager


def test_only_head_is_sent_and_ack_sends_next():
    _clock, sent, manager = make()
    running, finished = status("t1"), status("t1", "TASK_FINISHED")
    assert manager.update("F", running)
    assert manager.update("F", finished)
    assert sent == [("F", running)]
    assert manager.acknowledge("F", "t1", running["uuid"]) == running
    assert sent == [("F", running), ("F", finished)]
    assert manager.acknowledge("F", "t1", finished["uuid"]) == finished
    assert manager.unacknowledged() == []


def test_streams_of_different_tasks_are_independent():
    _clock, sent, manager = make()
    a, b = status("a"), status("b")
    manager.update("F", a)
    manager.update("F", b)
    assert sent == [("F", a), ("F", b)]


def test_retries_double_up_to_the_cap():
    clock, sent, manager = make(min_interval=1.0, max_interval=5.0)
    s = status("t1")
    manager.update("F", s)
    times = []
    for _ in range(60):
        clock.advance(0.5)
        if len(sent) > len(times) + 1:
            times.append(clock.seconds())
    # sent at 0, then 1, 3 (2 later), 7 (4 later), 12 (capped at 5), 17, 22, 27
    assert times == [1.0, 3.0, 7.0, 12.0, 17.0, 22.0, 27.0]
    assert all(item == ("F", s) for item in sent)


def test_ack_stops_retries():
    clock, sent, manager = make(min_interval=1.0)
    s = status("t1")
    manager.update("F", s)
    manager.acknowledge("F", "t1", s["uuid"])
    clock.advance(100)
    assert sent == [("F", s)]
    assert clock.getDelayedCalls() == []


def test_stale_duplicate_and_unknown_acks_are_ignored():
    _clock, sent, manager = make()
    first, second = status("t1"), status("t1")
    manager.update("F", first)
    manager.update("F", second)
    assert manager.acknowledge("F", "t1", second["uuid"]) is None  # not the head
    assert manager.acknowledge("F", "t1", first["uuid"]) == first
    assert manager.acknowledge("F", "t1", first["uuid"]) is None  # duplicate
    assert manager.acknowledge("F", "nope", first["uuid"]) is None
    assert manager.acknowledge("G", "t1", second["uuid"]) is None
    assert len(sent) == 2


def test_duplicate_uuid_and_updates_after_terminal_are_refused():
    _clock, _sent, manager = make()
    s = status("t1")
    assert manager.update("F", s)
    assert not manager.update("F", dict(s))
    assert manager.update("F", status("t1", "TASK_FAILED"))
    assert not manager.update("F", status("t1", "TASK_RUNNING"))
    assert len(manager.unacknowledged()) == 2


def test_pause_holds_updates_and_resume_resends_heads():
    clock, sent, manager = make(min_interval=1.0)
    a = status("a")
    manager.update("F", a)
    manager.pause()
    b = status("b")
    manager.update("F", b)
    clock.advance(50)
    assert sent == [("F", a)]
    manager.resume()
    assert sent[1:] == [("F", a), ("F", b)]


def test_starts_paused():
    clock = Clock()
    sent = []
    manager = StatusUpdateManager(clock, lambda fid, s: sent.append(s))
    manager.update("F", status("t"))
    clock.advance(1000)
    assert sent == []


def test_forget_framework_drops_streams_and_timers():
    clock, sent, manager = make(min_interval=1.0)
    manager.update("F", status("a"))
    manager.update("G", status("b"))
    manager.forget_framework("F")
    assert [fid for fid, _ in manager.unacknowledged()] == ["G"]
    clock.advance(1.0)
    assert [fid for fid, _ in sent] == ["F", "G", "G"]
