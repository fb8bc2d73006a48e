"""cgroups isolation on this machine's real cgroup v1 hierarchy, through a real agent.

Each test's agent uses its own ``--cgroups_root``, so agents sharing the
kernel never collide; the fixture removes that root afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import uuid

import pytest

from mesos_py.agent.cgroups import host_cgroup_version
from tests.integration.harness import FAST_AGENT_FLAGS, get_json, running_cluster, wait_for
from tests.integration.pymesos_support import PymesosFramework, command_task

HIERARCHY = "/sys/fs/cgroup"
SUBSYSTEMS = ("cpu", "cpuacct", "memory", "pids")


def _v1_available() -> bool:
    try:
        return os.geteuid() == 0 and host_cgroup_version(HIERARCHY, SUBSYSTEMS) == 1
    except Exception:
        return False


pytestmark = [
    pytest.mark.integration,
    pytest.mark.pymesos,
    pytest.mark.skipif(not _v1_available(), reason="needs root and cgroup v1"),
]


def cgroup(subsystem: str, root: str, container: str = "") -> str:
    return os.path.join(HIERARCHY, subsystem, root, container)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@pytest.fixture
def root():
    name = f"mesos-py-test-{uuid.uuid4().hex[:8]}"
    yield name
    for subsystem in SUBSYSTEMS:
        path = cgroup(subsystem, name)
        for entry in os.listdir(path) if os.path.isdir(path) else []:
            child = os.path.join(path, entry)
            if os.path.isdir(child):
                for pid in read(os.path.join(child, "cgroup.procs")).split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), 9)
                with contextlib.suppress(OSError):
                    os.rmdir(child)
        with contextlib.suppress(OSError):
            os.rmdir(path)


@pytest.fixture
def isolated(tmp_path, root):
    flags = [
        *FAST_AGENT_FLAGS,
        "--isolation=cgroups/cpu,cgroups/mem,cgroups/pids",
        f"--cgroups_root={root}",
        "--cgroups_pids_max=32",
    ]
    with running_cluster(tmp_path / "c", "processes", agent_flags=flags) as cluster:
        framework = PymesosFramework(cluster.address, name="isolation", checkpoint=True)
        try:
            yield cluster, framework
        finally:
            framework.stop()


def container_of(cluster, task_id: str) -> str:
    state = get_json(cluster.agent_address(0), "/state")
    for framework in state["frameworks"] + state["completed_frameworks"]:
        for executor in framework["executors"] + framework["completed_executors"]:
            if executor["id"] == task_id:
                return executor["container"]
    raise LookupError(task_id)


def launch(framework, task_id: str, command: str, **resources) -> dict:
    offer = framework.scheduler.next_offer()
    task = command_task(offer, task_id, command, **resources)
    framework.driver.launchTasks([offer["id"]], [task], {"refuse_seconds": 0})
    return offer


def test_task_cgroups_have_its_limits_and_go_away(isolated, root):
    cluster, framework = isolated
    launch(framework, "sleeper", "exec sleep 1000", cpus=0.5, mem=64)
    framework.scheduler.wait_update("sleeper", "TASK_RUNNING")
    container = container_of(cluster, "sleeper")
    assert read(cgroup("cpu", root, container) + "/cpu.shares") == "512"
    assert read(cgroup("memory", root, container) + "/memory.limit_in_bytes") == str(64 << 20)
    assert read(cgroup("pids", root, container) + "/pids.max") == "32"
    procs = wait_for(lambda: read(cgroup("memory", root, container) + "/cgroup.procs").split())
    assert procs and all(f"/{root}/{container}" in read(f"/proc/{p}/cgroup") for p in procs)

    (entry,) = get_json(cluster.agent_address(0), "/monitor/statistics")
    stats = entry["statistics"]
    assert entry["executor_id"] == "sleeper"
    assert stats["cpus_limit"] == 0.5
    assert stats["mem_limit_bytes"] == 64 << 20
    for key in ("cpus_user_time_secs", "cpus_system_time_secs", "mem_rss_bytes", "timestamp"):
        assert key in stats
    metrics = get_json(cluster.agent_address(0), "/metrics/snapshot")
    assert metrics["slave/cpus_used"] == 0.5 and metrics["slave/mem_used"] == 64

    framework.driver.killTask({"value": "sleeper"})
    framework.scheduler.wait_update("sleeper", "TASK_KILLED")
    for subsystem in SUBSYSTEMS:
        wait_for(lambda s=subsystem: not os.path.exists(cgroup(s, root, container)))


def test_memory_hog_fails_with_the_memory_reason(isolated, root):
    cluster, framework = isolated
    hog = "python3 -c \"x = b'a' * (256 << 20); import time; time.sleep(60)\""
    launch(framework, "hog", hog, cpus=0.1, mem=64)
    failed = framework.scheduler.wait_update("hog", "TASK_FAILED")
    assert failed["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY"
    assert failed["source"] == "SOURCE_AGENT"
    assert failed["message"].startswith("Memory limit exceeded: Requested: 64MB")
    assert failed["limitation"]["resources"][0]["name"] == "mem"
    container = container_of(cluster, "hog")
    wait_for(lambda: not os.path.exists(cgroup("memory", root, container)))


def test_fork_bomb_is_held_by_the_pids_limit(isolated, root, tmp_path):
    cluster, framework = isolated
    seen = tmp_path / "forks"
    bomb = f"i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); echo $i > {seen}; done; wait"
    launch(framework, "bomb", bomb, cpus=0.1, mem=64)
    framework.scheduler.wait_update("bomb", "TASK_RUNNING")
    container = container_of(cluster, "bomb")
    ended = framework.scheduler.wait_update("bomb", "TASK_FAILED", timeout=30)
    assert int(read(str(seen))) < 32  # forks beyond the limit failed and ended the shell
    assert "exited with status" in ended["message"]
    wait_for(lambda: not os.path.exists(cgroup("pids", root, container)))


def test_task_runs_as_its_user_inside_its_cgroups(isolated, root):
    cluster, framework = isolated
    offer = framework.scheduler.next_offer()
    task = command_task(offer, "as-nobody", "id -un; cat /proc/self/cgroup")
    task["command"]["user"] = "nobody"
    ghost = command_task(offer, "as-ghost", "true")
    ghost["command"]["user"] = "no-such-user-here"
    framework.driver.launchTasks([offer["id"]], [task, ghost], {"refuse_seconds": 0})
    framework.scheduler.wait_update("as-nobody", "TASK_FINISHED")
    failed = framework.scheduler.wait_update("as-ghost", "TASK_FAILED")
    assert "no-such-user-here" in failed["message"]
    state = get_json(cluster.agent_address(0), "/state")
    (executor,) = [
        e
        for f in state["frameworks"] + state["completed_frameworks"]
        for e in f["executors"] + f["completed_executors"]
        if e["id"] == "as-nobody"
    ]
    assert os.stat(executor["directory"]).st_uid == pwd.getpwnam("nobody").pw_uid
    output = read(os.path.join(executor["directory"], "stdout"))
    assert output.startswith("nobody") and f"/{root}/{executor['container']}" in output


def test_leftover_cgroups_are_removed_at_recovery(isolated, root):
    cluster, _ = isolated
    os.makedirs(cgroup("memory", root, "stale-container"))
    cluster.restart_agent(0)
    wait_for(lambda: not os.path.exists(cgroup("memory", root, "stale-container")))
