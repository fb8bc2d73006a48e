"""``/metrics`` of masters and agents, read by prometheus_client's parser."""

from __future__ import annotations

from tests.integration.harness import RawScheduler, get_json
from tests.integration.prometheus_support import scrape
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch


def test_master_and_agent_metrics(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(
        raw, offer, [command_task(offer, "runs", "sleep 30"), command_task(offer, "ends", "true")]
    )
    collect(raw, ["runs", "ends"], {"TASK_RUNNING", "TASK_FINISHED"})
    collect(raw, ["ends"], {"TASK_FINISHED"})

    master = scrape(process_cluster.address)
    assert master[("mesos_master_elected", ())] == 1
    assert master[("mesos_master_agents", (("state", "active"),))] == 1
    assert master[("mesos_master_agents", (("state", "unreachable"),))] == 0
    assert master[("mesos_master_frameworks", (("state", "active"),))] == 1
    assert master[("mesos_master_tasks", (("state", "TASK_RUNNING"),))] == 1
    assert master[("mesos_master_task_terminations_total", (("state", "TASK_FINISHED"),))] == 1
    assert master[("mesos_master_resources_capacity", (("resource", "cpus"),))] == 4
    assert master[("mesos_master_resources_used", (("resource", "cpus"),))] == 0.1
    assert master[("mesos_master_offers_sent_total", ())] >= 1
    runs = master[("mesos_master_allocation_runs_total", ())]
    assert runs >= 1
    assert master[("mesos_master_allocation_run_seconds_count", ())] == runs
    assert master[("mesos_master_allocation_run_seconds_bucket", (("le", "+Inf"),))] == runs
    # RUNNING and FINISHED of "ends", RUNNING of "runs": three first deliveries.
    assert master[("mesos_master_status_update_latency_seconds_count", ())] == 3
    assert master[("mesos_master_status_update_latency_seconds_sum", ())] < 3
    assert not any(name.startswith("mesos_master_zookeeper") for name, _ in master)

    # Mesos' JSON snapshot is still there.
    snapshot = get_json(process_cluster.address, "/metrics/snapshot")
    assert snapshot["master/tasks_running"] == 1

    url = offer["url"]["address"]
    agent = scrape(f"{url['ip']}:{url['port']}")
    assert agent[("mesos_agent_registered", ())] == 1
    assert agent[("mesos_agent_tasks", (("state", "TASK_RUNNING"),))] == 1
    assert agent[("mesos_agent_task_terminations_total", (("state", "TASK_FINISHED"),))] == 1
    assert agent[("mesos_agent_resources_used", (("resource", "cpus"),))] == 0.1
    assert agent[("mesos_agent_status_update_ack_latency_seconds_count", ())] == 3
    raw.close()


def test_zookeeper_session_state_is_exported(ha_cluster):
    leader = scrape(ha_cluster.leader)
    assert leader[("mesos_master_zookeeper_session", (("state", "CONNECTED"),))] == 1
    assert leader[("mesos_master_zookeeper_session", (("state", "LOST"),))] == 0
    standby = next(a for a in ha_cluster.addresses if a != ha_cluster.leader)
    assert scrape(standby)[("mesos_master_elected", ())] == 0
    agent_address = ha_cluster.state()["slaves"][0]["pid"].rpartition("@")[2]
    agent = scrape(agent_address)
    assert agent[("mesos_agent_zookeeper_session", (("state", "CONNECTED"),))] == 1
