"""cgroups arithmetic, the v2 backend (a faithful file tree, and this kernel's real cgroup2
mount), and the v1 backend on this machine's real hierarchy.

This host is a v1/v2 hybrid: every controller is bound to v1, so the real
cgroup2 mount (``/sys/fs/cgroup/unified``) has none.  The v2 limit and
statistics files are therefore tested against a file tree laid out as the
kernel lays it out; creating, joining, killing and removing v2 cgroups is
tested on the real mount.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from mesos_py.agent.cgroups import (
    CgroupError,
    CgroupsV1,
    CgroupsV2,
    Limits,
    make_backend,
    parse_flat,
)
from mesos_py.agent.launcher import WRAPPER

UNIFIED = "/sys/fs/cgroup/unified"


def test_limits_follow_mesos_rules():
    limits = Limits(cpus=1.5, mem_mb=100)
    assert limits.cpu_shares == 1536 and limits.cfs_quota_us == 150_000
    assert limits.mem_bytes == 100 << 20
    tiny = Limits(cpus=0.0001, mem_mb=1)
    assert tiny.cpu_shares == 2 and tiny.cfs_quota_us == 1_000 and tiny.mem_bytes == 32 << 20
    assert tiny.cpu_weight == 1 and Limits(256, 1).cpu_weight == 10_000
    assert Limits(1, 1).cpu_weight == 39  # 1024 shares, as systemd and crun map them


def test_parse_flat_skips_junk():
    assert parse_flat("user 5\nsystem x\n\nnr_periods 3") == {"user": 5, "nr_periods": 3}


def test_no_cgroups_isolator_means_no_backend_and_a_bad_root_is_refused(tmp_path):
    assert make_backend("posix/cpu,posix/mem", str(tmp_path), "mesos", False) is None
    for root in ("", "../escape", "a/../../b"):
        with pytest.raises(CgroupError):
            make_backend("cgroups/mem", str(tmp_path), root, False)


@pytest.fixture
def v2_tree(tmp_path):
    """A cgroup2 hierarchy as files: what the kernel shows at the top."""
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    return tmp_path


def test_v2_backend_is_chosen_and_writes_v2_files(v2_tree):
    backend = make_backend("cgroups/cpu,cgroups/mem,cgroups/pids", str(v2_tree), "m/agent", True)
    assert isinstance(backend, CgroupsV2)
    for level in (v2_tree, v2_tree / "m", v2_tree / "m" / "agent"):
        assert (level / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    procs = backend.create("c1", Limits(cpus=0.5, mem_mb=64, cfs=True, pids_max=20))
    container = v2_tree / "m" / "agent" / "c1"
    assert procs == [str(container / "cgroup.procs")]
    assert (container / "cpu.weight").read_text() == str(Limits(0.5, 64).cpu_weight)
    assert (container / "cpu.max").read_text() == "50000 100000"
    assert (container / "memory.max").read_text() == str(64 << 20)
    assert (container / "pids.max").read_text() == "20"
    assert backend.containers() == {"c1"}

    assert backend.memory_limitation("c1") is None  # no memory.events yet
    (container / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    (container / "memory.peak").write_text(str(70 << 20))
    (container / "memory.stat").write_text("anon 1000\nfile 20\n")
    message = backend.memory_limitation("c1")
    assert message.startswith("Memory limit exceeded: Requested: 64MB Maximum Used: 70MB")

    (container / "cpu.stat").write_text("usage_usec 9\nuser_usec 2000000\nsystem_usec 500000\n")
    (container / "memory.current").write_text("4096\n")
    (container / "pids.current").write_text("3\n")
    stats = backend.statistics("c1")
    assert stats["cpus_user_time_secs"] == 2.0 and stats["cpus_system_time_secs"] == 0.5
    assert "cpus_limit" not in stats  # the weight is lossy: the agent reports the allocation
    assert stats["mem_limit_bytes"] == 64 << 20 and stats["mem_rss_bytes"] == 1000
    assert stats["mem_total_bytes"] == 4096 and stats["processes"] == 3


def test_v2_refuses_missing_controllers(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    with pytest.raises(CgroupError, match="memory"):
        make_backend("cgroups/mem", str(tmp_path), "mesos", False)


def _real_cgroup2() -> bool:
    return os.geteuid() == 0 and os.path.exists(os.path.join(UNIFIED, "cgroup.procs"))


def wrapped_sleep(procs: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        ["/bin/sh", "-c", WRAPPER, "test", "", *procs, "--", "sleep", "100"],
        start_new_session=True,
    )


def in_cgroup(pid: int, suffix: str) -> bool:
    """Whether a line of /proc/PID/cgroup ends with ``suffix`` (hierarchy:path)."""
    with open(f"/proc/{pid}/cgroup") as f:
        return any(line.endswith(suffix) for line in f.read().splitlines())


@pytest.mark.skipif(not _real_cgroup2(), reason="needs root and a cgroup2 mount")
def test_v2_on_the_real_cgroup2_mount_joins_kills_and_removes():
    root = f"mesos-py-test-{uuid.uuid4().hex[:8]}"
    backend = CgroupsV2(UNIFIED, root, (), False)
    try:
        backend.check()
        procs = backend.create("c1", Limits(1, 32))
        process = wrapped_sleep(procs)
        deadline = time.monotonic() + 5
        while not in_cgroup(process.pid, f"0::/{root}/c1"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        backend.destroy("c1")
        assert process.wait(timeout=5) == -9
        assert backend.containers() == set()
    finally:
        for path in (os.path.join(UNIFIED, root, "c1"), os.path.join(UNIFIED, root)):
            if os.path.isdir(path):
                os.rmdir(path)


def _real_v1() -> bool:
    return os.geteuid() == 0 and all(
        os.path.exists(f"/sys/fs/cgroup/{s}/cgroup.procs") for s in ("cpu", "cpuacct", "memory")
    )


@pytest.mark.skipif(not _real_v1(), reason="needs root and cgroup v1")
def test_v1_backend_on_the_real_hierarchy():
    root = f"mesos-py-test-{uuid.uuid4().hex[:8]}"
    backend = make_backend("cgroups/cpu,cgroups/mem", "/sys/fs/cgroup", root, True)
    assert isinstance(backend, CgroupsV1)
    try:
        procs = backend.create("c1", Limits(cpus=0.25, mem_mb=48, cfs=True))
        base = "/sys/fs/cgroup"
        with open(f"{base}/cpu/{root}/c1/cpu.cfs_quota_us") as f:
            assert f.read().strip() == "25000"
        backend.update("c1", Limits(cpus=0.25, mem_mb=96))
        with open(f"{base}/memory/{root}/c1/memory.limit_in_bytes") as f:
            assert f.read().strip() == str(96 << 20)
        process = wrapped_sleep(procs)
        deadline = time.monotonic() + 5
        while not in_cgroup(process.pid, f":memory:/{root}/c1"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        stats = backend.statistics("c1")
        assert stats["cpus_limit"] == 0.25 and stats["mem_limit_bytes"] == 96 << 20
        assert backend.containers() == {"c1"}
        backend.destroy("c1")
        assert process.wait(timeout=5) == -9
        assert backend.containers() == set()
    finally:
        for subsystem in ("cpu", "cpuacct", "memory"):
            for path in (
                f"/sys/fs/cgroup/{subsystem}/{root}/c1",
                f"/sys/fs/cgroup/{subsystem}/{root}",
            ):
                if os.path.isdir(path):
                    os.rmdir(path)
