"""The day-2 playbooks against the live cluster, with an unmodified pymesos framework.

* ``playbooks/rolling-restart.yml`` restarts every ZooKeeper server, master, agent,
  Marathon and Chronos instance one at a time while a checkpointing framework keeps a
  ``sleep`` task running and Marathon an app of two: a watcher samples the ensemble
  (``srvr`` on every server) and the leading master all along; the task is never
  reported lost, killed or failed, is still running on the same agent afterwards, and
  the framework re-subscribed with the ID it had; every Marathon and Chronos unit runs a
  new process afterwards, one leader serves each, subscribed at the master with the
  framework ID it had, and the app still runs the tasks it ran before.
* ``playbooks/drain-agent.yml`` drains the agent running a task (the task is killed,
  the agent ends ``DRAINED`` and stopped), then undrains it (offered again).

The framework runs on the control machine and finds the masters through ZooKeeper,
like any framework of the cluster. Each test stops its framework (tearing its tasks
down) and leaves every agent up and active, so later tests find the cluster whole.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.infra import cluster
from tests.infra.test_frameworks import (
    FRAMEWORKS,
    active_framework_ids,
    chronos_leader,
    marathon_app,
    marathon_leader,
    marathon_running_tasks,
    master_task_states,
)

pymesos_support = pytest.importorskip("tests.integration.pymesos_support")

PLAYBOOK_TIMEOUT = 1200
# A ZooKeeper client keeps its session through an outage shorter than this (the
# masters' and agents' default --zk_session_timeout): the one election the restart of
# the ensemble's leader causes must fit in it.
ZOOKEEPER_SESSION_SECONDS = 10.0
BAD_STATES = {"TASK_LOST", "TASK_KILLED", "TASK_FAILED", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"}


class OfferKeepingScheduler(pymesos_support.RecordingScheduler):
    """Queues offers while the test wants one, declines them (for a while) otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.wanting = threading.Event()
        self.wanting.set()

    def resourceOffers(self, driver, offers):
        if self.wanting.is_set():
            super().resourceOffers(driver, offers)
            return
        driver.declineOffer([offer["id"] for offer in offers], {"refuse_seconds": 5})


@dataclass
class Framework:
    driver: object
    scheduler: OfferKeepingScheduler
    framework_id: str

    def offer_from(self, agent_id: str | None = None, timeout: float = 60.0) -> dict:
        """The next offer (of ``agent_id`` if given); others are declined."""
        deadline = time.monotonic() + timeout
        self.scheduler.wanting.set()
        try:
            while True:
                offer = self.scheduler.next_offer(timeout=max(0.1, deadline - time.monotonic()))
                if agent_id is None or offer["agent_id"]["value"] == agent_id:
                    return offer
                self.driver.declineOffer([offer["id"]], {"refuse_seconds": 1})
        finally:
            self.scheduler.wanting.clear()
            self._decline_queued()

    def _decline_queued(self) -> None:
        while not self.scheduler.offers.empty():
            offer = self.scheduler.offers.get_nowait()
            self.driver.declineOffer([offer["id"]], {"refuse_seconds": 5})

    def launch_sleep(self, offer: dict) -> str:
        task_id = f"infra-sleep-{uuid.uuid4().hex[:8]}"
        task = pymesos_support.command_task(offer, task_id, "sleep 3600", cpus=0.1, mem=16)
        self.driver.launchTasks([offer["id"]], [task])
        self.scheduler.wait_update(task_id, "TASK_RUNNING", timeout=60)
        return task_id


@pytest.fixture
def framework(inventory) -> Iterator[Framework]:
    zk = ",".join(f"{a}:{cluster.ZOOKEEPER_PORT}" for a in inventory.addresses("zookeeper"))
    scheduler = OfferKeepingScheduler()
    info = pymesos_support.framework_info(
        name=f"infra-{uuid.uuid4().hex[:6]}", checkpoint=True, failover_timeout=3600.0
    )
    driver = pymesos_support.MesosSchedulerDriver(
        scheduler, info, f"zk://{zk}/mesos", use_addict=False
    )
    driver.start()
    try:
        framework_id = scheduler.registrations.get(timeout=60)
        yield Framework(driver, scheduler, framework_id)
    finally:
        driver.stop(failover=False)  # a teardown: the master kills what is left
        driver.join()


def run_playbook(playbook: str, *extra: str) -> subprocess.CompletedProcess:
    ansible = cluster.venv_tool("ansible-playbook")
    result = subprocess.run(
        [ansible, "-i", cluster.INVENTORY, playbook, *extra],
        cwd=cluster.REPO,
        stdin=subprocess.DEVNULL,  # ansible-playbook refuses a non-blocking stdin
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        env=cluster.ansible_environment(),
    )
    assert result.returncode == 0, (
        f"{playbook} {' '.join(extra)} failed ({result.returncode}):\n"
        f"{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    )
    return result


def leading_master(inventory: cluster.Inventory) -> str | None:
    """The address of the master that says it leads, or None (an election is on)."""
    for address in inventory.addresses("mesos_masters"):
        try:
            status, _, body = cluster.http_get(address, cluster.MASTER_PORT, "/master/state")
        except OSError:
            continue
        if status != 200:
            continue
        state = json.loads(body)
        if "elected_time" in state and state.get("leader") == state.get("pid"):
            return address
    return None


def master_state(inventory: cluster.Inventory) -> dict:
    def elected() -> dict:
        leader = leading_master(inventory)
        assert leader is not None, "no master leads"
        return cluster.get_json(leader, cluster.MASTER_PORT, "/master/state")

    return cluster.eventually(elected, timeout=120)


def task_in(state: dict, framework_id: str, task_id: str) -> dict | None:
    for framework in state.get("frameworks", []):
        if framework.get("id") != framework_id:
            continue
        for task in framework.get("tasks", []):
            if task.get("id") == task_id:
                return task
    return None


@dataclass
class Watch:
    """What the watcher saw: samples of the ensemble and of the leading master."""

    samples: int = 0
    outages: list[tuple[float, float, str]] = field(default_factory=list)
    task_states: dict[str, int] = field(default_factory=dict)
    task_agents: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def quorum(addresses: list[str]) -> tuple[bool, str]:
    """Whether the ensemble has a leader and a serving majority, with the modes seen."""
    modes = {address: cluster.zookeeper_mode(address) for address in addresses}
    serving = [m for m in modes.values() if m in ("leader", "follower")]
    leaders = [m for m in modes.values() if m == "leader"]
    has_quorum = len(leaders) == 1 and len(serving) > len(addresses) // 2
    return has_quorum, ", ".join(f"{a}={m}" for a, m in sorted(modes.items()))


class Watcher(threading.Thread):
    """Samples ZooKeeper's quorum and the task as the leading master sees it."""

    def __init__(self, inventory: cluster.Inventory, framework_id: str, task_id: str) -> None:
        super().__init__(daemon=True, name="rolling-restart-watcher")
        self.inventory = inventory
        self.servers = inventory.addresses("zookeeper")
        self.framework_id = framework_id
        self.task_id = task_id
        self.watch = Watch()
        self.stopping = threading.Event()

    def run(self) -> None:
        outage_start: float | None = None
        last_modes = ""
        while not self.stopping.is_set():
            try:
                ok, modes = quorum(self.servers)
                now = time.monotonic()
                if not ok and outage_start is None:
                    outage_start, last_modes = now, modes
                elif ok and outage_start is not None:
                    self.watch.outages.append((outage_start, now, last_modes))
                    outage_start = None
                self._sample_master()
                self.watch.samples += 1
            except Exception as exc:  # any probe failure is recorded and asserted on
                self.watch.errors.append(repr(exc))
            self.stopping.wait(0.5)
        if outage_start is not None:
            self.watch.outages.append((outage_start, time.monotonic(), last_modes + " (at end)"))

    def _sample_master(self) -> None:
        leader = leading_master(self.inventory)
        if leader is None:
            return
        try:
            state = cluster.get_json(leader, cluster.MASTER_PORT, "/master/state")
        except (AssertionError, OSError, ValueError):
            return  # the leader went away between the two requests
        task = task_in(state, self.framework_id, self.task_id)
        if task is not None:
            self.watch.task_states[task["state"]] = self.watch.task_states.get(task["state"], 0) + 1
            self.watch.task_agents.add(task["slave_id"])


def unit_starts(inventory: cluster.Inventory, group: str) -> dict[str, tuple[int, int]]:
    """Each instance's framework unit as (MainPID, ActiveEnterTimestampMonotonic)."""
    unit, _ = FRAMEWORKS[group]
    starts = {}
    for name in inventory.hosts(group):
        properties = inventory.member(name).host.service(unit).systemd_properties
        assert properties["ActiveState"] == "active", (name, unit, properties["ActiveState"])
        entered = int(properties["ActiveEnterTimestampMonotonic"])
        starts[name] = (int(properties["MainPID"]), entered)
    return starts


def test_rolling_restart_keeps_quorum_and_the_running_task(inventory, framework):
    offer = framework.offer_from()
    agent_id = offer["agent_id"]["value"]
    task_id = framework.launch_sleep(offer)
    framework_ids = active_framework_ids(inventory)
    for name in FRAMEWORKS:
        assert len(framework_ids.get(name, [])) == 1, f"{name} not subscribed once: {framework_ids}"
    starts = {group: unit_starts(inventory, group) for group in FRAMEWORKS}
    with marathon_app(inventory, instances=2) as app:
        watcher = Watcher(inventory, framework.framework_id, task_id)
        watcher.start()
        started = time.monotonic()
        try:
            run_playbook("playbooks/rolling-restart.yml")
        finally:
            watcher.stopping.set()
            watcher.join(timeout=30)
        took = time.monotonic() - started
        assert_frameworks_restarted_and_failed_over(inventory, starts, framework_ids)
        # Marathon's leader failed over: it still runs the same tasks, none restarted.
        tasks = marathon_running_tasks(inventory, app.app_id, count=len(app.tasks))
        assert {t["id"] for t in tasks} == {t["id"] for t in app.tasks}, (tasks, app.tasks)
        states = master_task_states(inventory)
        assert all(states.get(t["id"]) == "TASK_RUNNING" for t in app.tasks), (app.tasks, states)
    watch = watcher.watch
    print(f"rolling restart: {took:.0f} s, {watch.samples} samples, outages {watch.outages}")

    assert watch.samples > 10, f"the watcher barely ran: {watch}"
    assert not watch.errors, watch.errors
    # Restarting a follower never costs the quorum; restarting the leader costs one
    # election, which must end within a client's session timeout.
    assert len(watch.outages) <= 1, f"the ensemble lost its quorum more than once: {watch.outages}"
    for start, end, modes in watch.outages:
        assert end - start < ZOOKEEPER_SESSION_SECONDS, (
            f"the ensemble had no quorum for {end - start:.1f} s ({modes})"
        )
    assert set(watch.task_states) == {"TASK_RUNNING"}, watch.task_states
    assert watch.task_agents == {agent_id}, watch.task_agents

    states = framework.scheduler.states_of(task_id)
    assert not BAD_STATES & set(states), f"the framework was told {states}"
    assert not framework.scheduler.errors, framework.scheduler.errors

    # Every master restarted, so the framework re-subscribed, keeping its ID.
    registrations = []
    while not framework.scheduler.registrations.empty():
        registrations.append(framework.scheduler.registrations.get_nowait())
    assert registrations, "the framework never re-subscribed although every master restarted"
    assert all(r == ("reregistered", framework.framework_id) for r in registrations), registrations

    def still_running() -> None:
        task = task_in(master_state(inventory), framework.framework_id, task_id)
        assert task is not None, f"the leading master does not know {task_id}"
        assert task["state"] == "TASK_RUNNING", task["state"]
        assert task["slave_id"] == agent_id, (task["slave_id"], agent_id)

    cluster.eventually(still_running, timeout=120)
    framework.driver.reconcileTasks([{"task_id": {"value": task_id}}])
    framework.scheduler.wait_update(task_id, "TASK_RUNNING", timeout=60)


def assert_frameworks_restarted_and_failed_over(
    inventory: cluster.Inventory,
    starts: dict[str, dict[str, tuple[int, int]]],
    framework_ids: dict[str, list[str]],
) -> None:
    """Every Marathon and Chronos instance runs a process started after ``starts``, one
    leader serves each framework, and the master lists it with the ID it had."""
    for group, before in starts.items():
        after = unit_starts(inventory, group)
        for name, (pid, entered) in after.items():
            old_pid, old_entered = before[name]
            assert pid != old_pid and entered > old_entered, (
                f"{FRAMEWORKS[group][0]} on {name} was not restarted: MainPID {old_pid} -> "
                f"{pid}, active since {old_entered} -> {entered} (monotonic microseconds)"
            )
    assert marathon_leader(inventory)
    assert chronos_leader(inventory)

    def same_ids() -> None:
        now = active_framework_ids(inventory)
        assert {n: now.get(n) for n in FRAMEWORKS} == {n: framework_ids[n] for n in FRAMEWORKS}, (
            f"frameworks before the restart {framework_ids}, after {now}"
        )

    cluster.eventually(same_ids, timeout=120)


def agent_member(inventory: cluster.Inventory, agent_id: str) -> cluster.Member:
    """The inventory host of the agent the master knows as ``agent_id``."""
    slaves = cluster.get_json(
        leading_master(inventory) or inventory.addresses("mesos_masters")[0],
        cluster.MASTER_PORT,
        "/master/slaves",
    )["slaves"]
    pid = next(s["pid"] for s in slaves if s["id"] == agent_id)
    address = pid.rsplit("@", 1)[-1].rsplit(":", 1)[0]
    name = next(n for n in inventory.hosts("mesos_agents") if inventory.address(n) == address)
    return inventory.member(name)


def agent_record(inventory: cluster.Inventory, address: str) -> dict | None:
    for agent in master_state(inventory).get("slaves", []):
        if agent["pid"].rsplit("@", 1)[-1].rsplit(":", 1)[0] == address:
            return agent
    return None


def test_drain_agent_kills_its_task_stops_it_and_undrain_brings_it_back(inventory, framework):
    offer = framework.offer_from()
    agent_id = offer["agent_id"]["value"]
    task_id = framework.launch_sleep(offer)
    agent = agent_member(inventory, agent_id)
    try:
        run_playbook("playbooks/drain-agent.yml", "-e", f"agent={agent.name}")
        framework.scheduler.wait_update(task_id, "TASK_KILLED", timeout=60)
        record = agent_record(inventory, agent.address)
        assert record is not None, f"the master forgot the drained agent {agent.name}"
        assert record.get("drain_info", {}).get("state") == "DRAINED", record
        assert not record["active"], record
        assert not agent.host.service("mesos-py-agent").is_running
    finally:
        run_playbook("playbooks/drain-agent.yml", "-e", f"agent={agent.name}", "-e", "undrain=true")

    assert agent.host.service("mesos-py-agent").is_running

    def reactivated() -> None:
        record = agent_record(inventory, agent.address)
        assert record is not None and record["active"], record
        assert "drain_info" not in record or record["drain_info"].get("state") is None, record

    cluster.eventually(reactivated, timeout=120)
    offer = framework.offer_from(agent_id=agent_id, timeout=60)
    assert offer["agent_id"]["value"] == agent_id
