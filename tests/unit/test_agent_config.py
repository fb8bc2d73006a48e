"""Pure parts of the agent: flags, resource detection, sandbox paths, commands, backoff."""

import argparse
import json
import os

import pytest
from twisted.internet.task import Clock

from mesos_py.agent import sandbox
from mesos_py.agent.command_executor import (
    command_environment,
    command_line,
    grace_period,
)
from mesos_py.agent.custom_executor import executor_environment
from mesos_py.agent.flags import AGENT_FLAGS, flags_for_state
from mesos_py.agent.launcher import LaunchError
from mesos_py.agent.master_link import MasterLink
from mesos_py.agent.resources_detect import (
    GB,
    HostFacts,
    detected_amounts,
    total_resources,
)
from mesos_py.agent.service import add_agent_arguments, make_agent_config
from mesos_py.common.flags import add_flags
from mesos_py.common.resources import Resources

FACTS = HostFacts(cpus=8, mem_bytes=16 * GB, disk_bytes=100 * GB)


def parse(*argv, environ=None):
    parser = argparse.ArgumentParser()

    if environ is None:
        add_agent_arguments(parser)
    else:
        add_flags(parser, AGENT_FLAGS, environ)
    return parser.parse_args(list(argv))


def test_defaults():
    options = parse("--master", "m:5050", "--work_dir", "/w")
    assert options.port == 5051
    assert options.ip == "0.0.0.0"
    assert options.isolation == "posix/cpu,posix/mem"
    assert options.switch_user is True
    assert options.executor_registration_timeout == 60
    assert options.executor_shutdown_grace_period == 5
    assert options.registration_backoff_factor == 1
    assert options.status_update_retry_interval_min == 10
    assert options.recover == "reconnect"
    assert options.gc_delay == 604800
    assert options.default_role == "*"
    flags = flags_for_state(options)
    assert flags["executor_registration_timeout"] == "1mins"
    assert flags["gc_delay"] == "1weeks"
    assert flags["switch_user"] == "true"
    assert "resources" not in flags


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--isolation", "cgroups/devices,posix/mem"], "cgroups/devices"),
        (["--recover", "maybe"], "reconnect"),
        (["--executor_environment_variables", "[1]"], "JSON object"),
        (["--executor_environment_variables", '{"A": 1}'], "string"),
        (["--executor_environment_variables", "{bad"], "JSON"),
        (["--port", "70000"], "range"),
        (["--executor_registration_timeout", "0secs"], "positive"),
        (["--status_update_retry_interval_min", "fast"], "duration"),
        (["--switch_user", "perhaps"], "boolean"),
    ],
)
def test_bad_flags_fail_at_parse_time(argv, fragment, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)
    assert fragment in capsys.readouterr().err


def test_flags_from_environment():
    options = parse(environ={"MESOS_MASTER": "m:1", "MESOS_SWITCH_USER": "false"})
    assert options.master == "m:1"
    assert options.switch_user is False


def test_executor_environment_variables_from_file(tmp_path):
    path = tmp_path / "env.json"
    path.write_text('{"PATH": "/bin"}')
    options = parse("--executor_environment_variables", f"file://{path}")
    assert options.executor_environment_variables == {"PATH": "/bin"}


def test_config(tmp_path):
    options = parse(
        "--master",
        "10.0.0.1:5050",
        "--work_dir",
        str(tmp_path / "w"),
        "--ip",
        "127.0.0.1",
        "--resources",
        "cpus:2;mem:512;disk:100",
        "--attributes",
        "rack:1",
    )
    config = make_agent_config(options)
    assert config.master == "10.0.0.1:5050"
    assert config.advertise_ip == "127.0.0.1"
    assert config.hostname == "127.0.0.1"
    assert config.resources.scalar("cpus") == 2
    assert config.resources.ranges("ports") == [(31000, 32000)]
    assert config.attributes == [{"name": "rack", "type": "SCALAR", "scalar": {"value": 1}}]
    options.advertise_ip, options.hostname, options.master = "10.1.1.1", "h", "m"
    config = make_agent_config(options)
    assert (config.advertise_ip, config.hostname, config.master) == ("10.1.1.1", "h", "m:5050")
    (tmp_path / "master").write_text("zk://h1:2181,h2:2181/mesos\n")
    options.master = f"file://{tmp_path / 'master'}"  # Mesos' form: the value is in the file
    assert make_agent_config(options).master == "zk://h1:2181,h2:2181/mesos"
    options.master = "zk://ops:secret@h1:2181/mesos"
    assert flags_for_state(options)["master"] == "zk://ops:***@h1:2181/mesos"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--work_dir", "/w"], "--master"),
        (["--master", "m:5050"], "--work_dir"),
        (["--master", "zk://h:2181", "--work_dir", "/w"], "path"),
        (["--master", "http://m:5050", "--work_dir", "/w"], "host:port"),
        (["--master", "m:notaport", "--work_dir", "/w"], "host:port"),
        (["--master", "file:///nonexistent", "--work_dir", "/w"], "cannot read it"),
        (["--master", "m:5050", "--work_dir", "/w", "--resources", "cpus:x"], "--resources"),
        (
            ["--master", "m:5050", "--work_dir", "/w", "--resources", "file:///nonexistent"],
            "--resources",
        ),
        (["--master", "m:5050", "--work_dir", "/w", "--attributes", "rack"], "--attributes"),
    ],
)
def test_bad_config(argv, fragment):
    with pytest.raises(ValueError, match=fragment):
        make_agent_config(parse(*argv))


def test_detection_rules():
    assert detected_amounts(FACTS) == {"cpus": 8, "mem": 15 * 1024, "disk": 95 * 1024}
    small = HostFacts(cpus=1, mem_bytes=GB, disk_bytes=4 * GB)
    assert detected_amounts(small) == {"cpus": 1, "mem": 512, "disk": 2048}
    edge = HostFacts(cpus=2, mem_bytes=2 * GB, disk_bytes=10 * GB)
    assert detected_amounts(edge) == {"cpus": 2, "mem": 1024, "disk": 5 * 1024}
    unknown = HostFacts(None, None, None)
    assert detected_amounts(unknown) == {"cpus": 1, "mem": 1024, "disk": 10 * 1024}


def test_only_missing_resources_are_detected(tmp_path):
    given = total_resources("cpus:3;ports:[1-2]", "*", FACTS)
    assert given.scalar("cpus") == 3
    assert given.scalar("mem") == 15 * 1024
    assert given.ranges("ports") == [(1, 2)]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(Resources.parse("cpus:1;mem:2;disk:3;ports:[5-6]").to_json()))
    assert total_resources(f"file://{path}", "*", FACTS) == Resources.parse(
        "cpus:1;mem:2;disk:3;ports:[5-6]"
    )
    reserved = total_resources(None, "eng", FACTS)
    assert set(reserved.reserved_by_role()) == {"eng"}


def test_check_id():
    for bad in ("", ".", "..", "a/b", "latest", "a\0b", "x" * 256):
        with pytest.raises(ValueError):
            sandbox.check_id(bad, "task ID")
    assert sandbox.check_id("web.1-abc", "task ID") == "web.1-abc"


def test_run_dirs_and_latest_links(tmp_path):
    work_dir = str(tmp_path)
    first = sandbox.create_run_dir(work_dir, "A", "F", "E", "c1")
    second = sandbox.create_run_dir(work_dir, "A", "F", "E", "c2")
    assert first == os.path.join(work_dir, "slaves/A/frameworks/F/executors/E/runs/c1")
    assert os.path.isdir(first) and os.path.isdir(second)
    latest = os.path.join(work_dir, "slaves/A/frameworks/F/executors/E/runs/latest")
    assert os.readlink(latest) == "c2"
    sandbox.mark_current_agent(work_dir, "A")
    assert os.readlink(os.path.join(work_dir, "slaves/latest")) == "A"
    with pytest.raises(ValueError):
        sandbox.create_run_dir(work_dir, "A", "F", "../E", "c3")


def test_command_lines():
    assert command_line({"value": "echo hi"}) == (["/bin/sh", "-c", "echo hi"], None)
    assert command_line({"shell": False, "value": "/bin/echo", "arguments": ["e", "x"]}) == (
        ["e", "x"],
        "/bin/echo",
    )
    assert command_line({"shell": False, "value": "/bin/true"}) == (["/bin/true"], "/bin/true")
    for bad in (
        None,
        {},
        {"value": ""},
        {"shell": False},
        {"shell": False, "value": "/bin/x", "arguments": "a b"},
        {"value": "x", "uris": [{"value": "http://x/y"}]},
    ):
        with pytest.raises(LaunchError):
            command_line(bad)


def test_command_environment():
    command = {"environment": {"variables": [{"name": "A", "value": "1"}, {"name": "B"}]}}
    assert command_environment({"A": "0", "C": "2"}, command) == {"A": "1", "B": "", "C": "2"}
    for bad in (
        {"environment": {"variables": "A=1"}},
        {"environment": {"variables": [{"value": "1"}]}},
        {"environment": {"variables": [{"name": "S", "type": "SECRET", "secret": {}}]}},
        {"environment": {"variables": [{"name": "N", "value": 5}]}},
    ):
        with pytest.raises(LaunchError):
            command_environment({}, bad)


def test_grace_period():
    assert grace_period({"grace_period": {"nanoseconds": 1_500_000_000}}) == 1.5
    assert grace_period({"grace_period": {"nanoseconds": -5}}) == 0
    assert grace_period({"grace_period": {"nanoseconds": "x"}}) is None
    assert grace_period({}) is None
    assert grace_period(None) is None


def test_executor_environment():
    base = {"PATH": "/bin", "MESOS_CHECKPOINT": "0"}
    kwargs = dict(
        agent_id="A",
        agent_endpoint="10.0.0.2:5051",
        framework_id="F",
        executor_id="E",
        directory="/s",
        shutdown_grace_period=5.0,
    )
    env = executor_environment(base, checkpoint=False, **kwargs)
    assert "MESOS_CHECKPOINT" not in env
    assert env["PATH"] == "/bin"
    assert env["MESOS_AGENT_ENDPOINT"] == "10.0.0.2:5051"
    assert env["MESOS_SLAVE_PID"] == "slave(1)@10.0.0.2:5051"
    assert env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "5secs"
    assert env["MESOS_DIRECTORY"] == env["MESOS_SANDBOX"] == "/s"
    env = executor_environment(base, checkpoint=True, **kwargs)
    assert env["MESOS_CHECKPOINT"] == "1"
    assert env["MESOS_RECOVERY_TIMEOUT"] == "15mins"


class _Owner:
    def register_call(self):
        return {}


def test_registration_backoff_doubles_to_one_minute_with_full_jitter():
    clock = Clock()
    for jitter, expected in ((1.0, [1, 2, 4, 8, 16, 32, 60, 60]), (0.5, [0.5, 1, 2, 4])):
        link = MasterLink(clock, "127.0.0.1:1", _Owner(), 1.0, rand=lambda j=jitter: j)
        delays = []
        for _ in expected:
            link._schedule_attempt()
            (call,) = clock.getDelayedCalls()
            delays.append(call.getTime() - clock.seconds())
            call.cancel()
        assert delays == expected
