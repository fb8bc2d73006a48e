"""Checkpoint codec, update-log replay, reading a checkpoint tree, recovery planning, GC."""

from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mesos_py.agent import checkpoint
from mesos_py.agent.gc import GarbageCollector, max_allowed_age
from mesos_py.agent.launcher import shell_code_status


def status(task_id: str, state: str, uuid: str) -> dict:
    return {"task_id": {"value": task_id}, "state": state, "uuid": uuid}


def test_records_round_trip_and_a_torn_tail_is_dropped():
    records = [checkpoint.update_record(status("t", "TASK_RUNNING", "u1")), {"ack": "u1"}]
    data = b"".join(checkpoint.encode_record(r) for r in records)
    assert checkpoint.decode_records(data) == records
    assert checkpoint.decode_records(data + b'{"update": {"sta') == records
    assert checkpoint.decode_records(b"garbage\n" + data + b"[1]\n") == records


@given(st.binary(max_size=200))
def test_any_bytes_decode_without_crashing(data):
    assert all(isinstance(r, dict) for r in checkpoint.decode_records(data))


def test_replay_keeps_order_and_drops_acknowledged():
    records = [
        checkpoint.update_record(status("t", "TASK_RUNNING", "u1")),
        checkpoint.update_record(status("t", "TASK_FINISHED", "u2")),
        checkpoint.ack_record("u1"),
        checkpoint.update_record(status("t", "TASK_FINISHED", "u2")),  # a duplicate write
        {"ack": 7},
        {"update": "junk"},
    ]
    log = checkpoint.replay(records)
    assert [s["uuid"] for s in log.statuses] == ["u1", "u2"]
    assert [s["uuid"] for s in log.pending] == ["u2"]
    assert log.state == "TASK_FINISHED" and log.terminal
    assert checkpoint.replay([]).state is None


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    path = str(tmp_path / "a" / "slave.info")
    checkpoint.write_json(path, {"v": 1})

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        checkpoint.write_json(path, {"v": 2})
    monkeypatch.undo()
    assert checkpoint.read_json(path) == {"v": 1}
    assert os.listdir(tmp_path / "a") == ["slave.info"]


def test_a_failed_append_is_cut_back(tmp_path, monkeypatch):
    path = str(tmp_path / "task.updates")
    checkpoint.append_record(path, {"ack": "u1"})
    real_write = os.write

    def half(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half)
    with pytest.raises(OSError):
        checkpoint.append_record(path, {"ack": "u2"})
    monkeypatch.undo()
    checkpoint.append_record(path, {"ack": "u3"})
    with open(path, "rb") as f:
        assert checkpoint.decode_records(f.read()) == [{"ack": "u1"}, {"ack": "u3"}]


def write_tree(work_dir: str, boot_id: str = "boot-1") -> checkpoint.Paths:
    paths = checkpoint.Paths(work_dir, "A-S0")
    os.makedirs(paths.slaves)
    os.symlink("A-S0", paths.latest)
    checkpoint.atomic_write(paths.boot_id, boot_id.encode())
    checkpoint.write_json(os.path.join(paths.agent(), "slave.info"), {"hostname": "h"})
    checkpoint.write_json(
        os.path.join(paths.framework("F"), "framework.info"), {"id": {"value": "F"}}
    )
    checkpoint.write_json(
        os.path.join(paths.executor("F", "t1"), "executor.info"),
        {"info": {"executor_id": {"value": "t1"}}, "kind": "command"},
    )
    checkpoint.write_json(os.path.join(paths.run("F", "t1", "C1"), "run.info"), {"directory": "/s"})
    task_dir = paths.task("F", "t1", "C1", "t1")
    checkpoint.write_json(os.path.join(task_dir, "task.info"), {"task_id": {"value": "t1"}})
    checkpoint.write_json(os.path.join(task_dir, "forked.pid"), {"pid": 42, "started": 7})
    for record in (
        checkpoint.update_record(status("t1", "TASK_RUNNING", "u1")),
        checkpoint.ack_record("u1"),
        checkpoint.update_record(status("t1", "TASK_FINISHED", "u2")),
    ):
        checkpoint.append_record(os.path.join(task_dir, "task.updates"), record)
    # Unreadable pieces are skipped, not fatal.
    os.makedirs(os.path.join(paths.framework("G")))
    os.makedirs(os.path.join(paths.executor("F", "broken")))
    return paths


def test_reading_a_checkpoint_tree(tmp_path):
    write_tree(str(tmp_path))
    found = checkpoint.read_checkpoint(str(tmp_path))
    assert found.agent_id == "A-S0" and found.boot_id == "boot-1"
    assert list(found.frameworks) == ["F"]
    executor = found.frameworks["F"].executors["t1"]
    assert list(found.frameworks["F"].executors) == ["t1"]
    assert executor.kind == "command" and executor.run.directory == "/s"
    task = executor.run.tasks["t1"]
    assert task.process.pid == 42 and task.process.started == 7
    assert task.process.status_path.endswith("tasks/t1/exit.status")
    assert [s["uuid"] for s in task.log.pending] == ["u2"]
    assert checkpoint.read_checkpoint(str(tmp_path / "none")) is None


def test_recovery_plans(tmp_path):
    write_tree(str(tmp_path))
    found = checkpoint.read_checkpoint(str(tmp_path))
    keep = checkpoint.plan_recovery(found, "boot-1", "reconnect")
    assert keep.agent_id == "A-S0" and list(keep.frameworks) == ["F"] and not keep.kill
    rebooted = checkpoint.plan_recovery(found, "boot-2", "reconnect")
    assert rebooted.agent_id is None and not rebooted.frameworks and "reboot" in rebooted.reason
    cleanup = checkpoint.plan_recovery(found, "boot-1", "cleanup")
    assert cleanup.agent_id is None and [p.pid for p in cleanup.kill] == [42]
    assert checkpoint.plan_recovery(None, "boot-1", "reconnect").agent_id is None


def test_checkpointed_ids_must_be_path_components(tmp_path):
    with pytest.raises(ValueError):
        checkpoint.Paths(str(tmp_path), "../x").agent()
    paths = checkpoint.Paths(str(tmp_path), "A")
    with pytest.raises(ValueError):
        paths.framework("a/b")


def test_shell_exit_codes_become_wait_statuses():
    assert shell_code_status(0) == 0
    assert shell_code_status(3) == 3 << 8
    assert shell_code_status(137) == 9  # killed by SIGKILL
    assert shell_code_status(128) == 128 << 8


def test_gc_allowed_age_shrinks_as_the_disk_fills():
    assert max_allowed_age(100.0, 0.1, 0.0) == pytest.approx(90.0)
    assert max_allowed_age(100.0, 0.1, 0.5) == pytest.approx(40.0)
    assert max_allowed_age(100.0, 0.1, 0.95) == 0.0


def test_gc_removes_paths_when_due_or_when_the_disk_is_full():
    clock = Clock()
    removed = []
    gc = GarbageCollector(clock, 100.0, removed.append)
    gc.schedule("/old", age=95.0)
    gc.schedule("/new")
    assert gc.collect(disk_usage=0.0, headroom=0.0) == []
    clock.advance(5)
    assert gc.collect(disk_usage=0.0, headroom=0.0) == ["/old"]
    assert gc.pending == 1
    assert gc.collect(disk_usage=0.95, headroom=0.1) == ["/new"]  # allowed age 0
    assert gc.allowed_age == 0.0 and gc.succeeded == 2


def test_gc_counts_failures():
    def refuse(path):
        raise OSError(errno.EACCES, "no")

    gc = GarbageCollector(Clock(), 0.0, refuse)
    gc.schedule("/x")
    assert gc.collect(0.0, 0.1) == []
    assert gc.failed == 1 and gc.pending == 0
