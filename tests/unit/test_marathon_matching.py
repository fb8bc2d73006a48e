"""Packing app instances into offers (mesos_py.marathon.matching), pure."""

from __future__ import annotations

from mesos_py.marathon.appdef import parse_app
from mesos_py.marathon.matching import OfferBudget, task_environment, task_info


def offer(cpus=2.0, mem=256.0, ports=((31000, 31002),), role="*"):
    resources = [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": cpus},
            "allocation_info": {"role": role},
        },
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": mem},
            "allocation_info": {"role": role},
        },
        {
            "name": "ports",
            "type": "RANGES",
            "allocation_info": {"role": role},
            "ranges": {"range": [{"begin": b, "end": e} for b, e in ports]},
        },
    ]
    return {
        "id": {"value": "o1"},
        "agent_id": {"value": "s1"},
        "hostname": "n1",
        "resources": resources,
    }


def app(**fields):
    return {
        **parse_app({"id": "/grp/web", "cmd": "serve", "cpus": 0.5, "mem": 64, **fields}),
        "version": "v1",
    }


def test_claims_until_the_offer_is_used_up():
    budget = OfferBudget.of(offer())
    claims = [budget.claim(app()) for _ in range(4)]
    assert [c.host_ports for c in claims[:3]] == [[31000], [31001], [31002]]
    assert claims[3] is None  # ports ran out (cpus would allow 4)
    assert budget.scalars["cpus"] == 0.5


def test_a_failed_claim_takes_nothing():
    budget = OfferBudget.of(offer(mem=100))
    assert budget.claim(app(mem=200)) is None
    assert budget.scalars == {"cpus": 2.0, "mem": 100.0} and budget.ports == [[31000, 31002]]


def test_required_ports_must_be_offered():
    budget = OfferBudget.of(offer())
    assert budget.claim(app(portDefinitions=[{"port": 31001}], requirePorts=True)).host_ports == [
        31001
    ]
    assert budget.claim(app(portDefinitions=[{"port": 31001}], requirePorts=True)) is None
    assert budget.ports == [[31000, 31000], [31002, 31002]]


def test_no_ports_wanted():
    claim = OfferBudget.of(offer(ports=())).claim(app(portDefinitions=[]))
    assert claim.host_ports == [] and [r["name"] for r in claim.resources] == ["cpus", "mem"]


def test_resources_carry_the_offers_allocation_info():
    claim = OfferBudget.of(offer(role="web")).claim(app())
    assert all(r["allocation_info"] == {"role": "web"} for r in claim.resources)
    assert OfferBudget.of(offer(role="web"), roles=["*"]).claim(app()) is None


def test_task_info_and_environment():
    definition = app(
        env={"MODE": "prod"},
        labels={"team": "x"},
        portDefinitions=[{"port": 0, "name": "http"}, {"port": 0}],
        taskKillGracePeriodSeconds=3,
    )
    claim = OfferBudget.of(offer()).claim(definition)
    info = task_info(definition, "grp_web.1", offer(), claim)
    assert info["task_id"] == {"value": "grp_web.1"} and info["agent_id"] == {"value": "s1"}
    assert info["command"]["shell"] is True and info["command"]["value"] == "serve"
    env = {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}
    assert env["PORT0"] == "31000" and env["PORT1"] == "31001" and env["PORT"] == "31000"
    assert env["PORTS"] == "31000,31001" and env["PORT_HTTP"] == "31000"
    assert env["HOST"] == "n1" and env["MARATHON_APP_ID"] == "/grp/web"
    assert env["MARATHON_APP_VERSION"] == "v1" and env["MESOS_TASK_ID"] == "grp_web.1"
    assert env["MARATHON_APP_LABELS"] == "TEAM" and env["MARATHON_APP_LABEL_TEAM"] == "x"
    assert env["MARATHON_APP_RESOURCE_CPUS"] == "0.5" and env["MODE"] == "prod"
    assert info["kill_policy"] == {"grace_period": {"nanoseconds": 3_000_000_000}}


def test_args_run_without_a_shell():
    definition = app(cmd=None, args=["/bin/echo", "hi"], fetch=[{"uri": "http://x/a.tgz"}])
    info = task_info(definition, "t", offer(), OfferBudget.of(offer()).claim(definition))
    command = info["command"]
    assert command["shell"] is False and command["value"] == "/bin/echo"
    assert command["arguments"] == ["/bin/echo", "hi"]
    assert command["uris"] == [
        {"value": "http://x/a.tgz", "executable": False, "extract": True, "cache": False}
    ]
    assert task_environment(definition, "t", "h", [])["HOST"] == "h"
