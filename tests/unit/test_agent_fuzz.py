"""Random master events and executor calls never raise out of the agent."""

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from mesos_py.agent.agent import Agent, AgentConfig
from mesos_py.agent.executor_api import ExecutorAPI
from mesos_py.agent.launcher import LaunchError
from mesos_py.common.resources import Resources

WORDS = [
    "framework_info", "task", "task_id", "value", "executor", "executor_id", "command",
    "framework_id", "id", "uuid", "kill_policy", "grace_period", "nanoseconds", "type",
    "task_group", "tasks", "data", "shell", "arguments", "user", "resources", "capabilities",
    "status", "state", "source", "update", "message", "subscribe", "CUSTOM", "DEFAULT",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(WORDS) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(WORDS), children, max_size=4)
    ),
    max_leaves=20,
)
EVENT_TYPES = [
    "RUN_TASK", "RUN_TASK_GROUP", "KILL_TASK", "ACKNOWLEDGE", "SHUTDOWN_EXECUTOR",
    "SHUTDOWN_FRAMEWORK", "MESSAGE", "UPDATE_FRAMEWORK", "PING", "BOGUS",
]  # fmt: skip


class RefusingLauncher:
    """Launches nothing: fuzzed commands must never run."""

    def launch(self, argv, **kwargs):
        raise LaunchError("not launching fuzzed commands")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("agent-fuzz"))


def make_agent(work_dir):
    config = AgentConfig(
        master="127.0.0.1:1",
        work_dir=work_dir,
        hostname="h",
        advertise_ip="127.0.0.1",
        port=5051,
        resources=Resources.parse("cpus:1;mem:128"),
    )
    agent = Agent(config, Clock(), launcher=RefusingLauncher())
    agent.agent_id = "A"
    return agent


def corrupted(template: dict) -> st.SearchStrategy:
    """``template`` with some of its nested values replaced by random JSON."""

    def paths(value, prefix=()):
        if isinstance(value, dict):
            for key, child in value.items():
                yield (*prefix, key)
                yield from paths(child, (*prefix, key))

    all_paths = list(paths(template))

    def apply(replacements):
        result = json.loads(json.dumps(template))
        for path, new in replacements:
            target = result
            for key in path[:-1]:
                if not isinstance(target, dict) or not isinstance(target.get(key), dict):
                    break
                target = target[key]
            else:
                target[path[-1]] = new
        return result

    return st.lists(st.tuples(st.sampled_from(all_paths), json_values), max_size=3).map(apply)


TASK = {
    "name": "t",
    "task_id": {"value": "t1"},
    "agent_id": {"value": "A"},
    "command": {"value": "true", "shell": True, "user": "root"},
    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
    "kill_policy": {"grace_period": {"nanoseconds": 1}},
}
FRAMEWORK = {"id": {"value": "F"}, "user": "root", "name": "n", "capabilities": []}
EXECUTOR = {"executor_id": {"value": "E"}, "type": "CUSTOM", "command": {"value": "x"}}
TEMPLATES = [
    {"type": "RUN_TASK", "run_task": {"framework_info": FRAMEWORK, "task": TASK}},
    {
        "type": "RUN_TASK",
        "run_task": {
            "framework_info": FRAMEWORK,
            "task": dict(TASK, command=None, executor=EXECUTOR),
        },
    },
    {
        "type": "RUN_TASK_GROUP",
        "run_task_group": {
            "framework_info": FRAMEWORK,
            "executor": dict(EXECUTOR, type="DEFAULT"),
            "task_group": {"tasks": [TASK]},
        },
    },
    {
        "type": "KILL_TASK",
        "kill_task": {"framework_id": {"value": "F"}, "task_id": {"value": "t1"}},
    },
    {
        "type": "ACKNOWLEDGE",
        "acknowledge": {"framework_id": {"value": "F"}, "task_id": {"value": "t1"}, "uuid": "x"},
    },
    {
        "type": "SHUTDOWN_EXECUTOR",
        "shutdown_executor": {"framework_id": {"value": "F"}, "executor_id": {"value": "E"}},
    },
    {"type": "SHUTDOWN_FRAMEWORK", "shutdown_framework": {"framework_id": {"value": "F"}}},
    {
        "type": "MESSAGE",
        "message": {"framework_id": {"value": "F"}, "executor_id": {"value": "E"}, "data": ""},
    },
    {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": FRAMEWORK}},
]
events = st.one_of(
    st.tuples(st.sampled_from(EVENT_TYPES), json_values).map(
        lambda pair: {"type": pair[0], pair[0].lower(): pair[1]}
    ),
    st.sampled_from(TEMPLATES).flatmap(corrupted),
)


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(events, max_size=8))
def test_random_master_events(work_dir, events):
    agent = make_agent(work_dir)
    for event in events:
        agent.handle_event(event)
        agent.clock.advance(1)
    json.dumps(agent.metrics())


@settings(max_examples=150, suppress_health_check=list(HealthCheck), deadline=None)
@given(
    st.dictionaries(st.sampled_from([*WORDS, "type"]), json_values, max_size=5),
    st.sampled_from(["SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT", None]),
)
def test_random_executor_calls(work_dir, call, call_type):
    agent = make_agent(work_dir)
    if call_type is not None:
        call["type"] = call_type
    call.setdefault("framework_id", {"value": "F"})
    call.setdefault("executor_id", {"value": "E"})
    request = DummyRequest([b""])
    request.method = b"POST"
    request.requestHeaders.setRawHeaders(b"content-type", [b"application/json"])
    request.content = io.BytesIO(json.dumps(call).encode())
    ExecutorAPI(agent).render(request)
    assert request.responseCode in (None, 200, 202, 400, 403, 406)
