"""``mesos-py check-config``: the validate: step of the master and agent flag templates."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mesos_py.config_check import ConfigError, check_environment, parse_environment_file
from tests.deploy.ansible_run import REPO

MASTER_OK = """\
# Ansible managed
MESOS_IP=10.0.1.21
MESOS_PORT=5050
MESOS_ZK=zk://10.0.1.11:2181,10.0.1.12:2181,10.0.1.13:2181/mesos
MESOS_QUORUM=2
MESOS_WORK_DIR=/var/lib/mesos-py/master
MESOS_CLUSTER=production
"""

AGENT_OK = """\
MESOS_MASTER=zk://10.0.1.11:2181/mesos
MESOS_IP=10.0.2.11
MESOS_WORK_DIR=/var/lib/mesos-py/agent
MESOS_ISOLATION=cgroups/cpu,cgroups/mem
MESOS_CGROUPS_ROOT=mesos-py
MESOS_RESOURCES=cpus:4;mem:8192
MESOS_ATTRIBUTES=rack:r1
"""

MARATHON_OK = """\
MESOS_MASTER=zk://10.0.1.11:2181,10.0.1.12:2181/mesos
MESOS_ZK=zk://10.0.1.11:2181,10.0.1.12:2181/marathon
MESOS_HTTP_ADDRESS=10.0.1.21
MESOS_HTTP_PORT=8080
MESOS_HOSTNAME=10.0.1.21
MESOS_FRAMEWORK_NAME=marathon
MESOS_MESOS_USER=mesos-py
MESOS_FAILOVER_TIMEOUT=604800
"""

CHRONOS_OK = """\
MESOS_MASTER=zk://10.0.1.11:2181,10.0.1.12:2181/mesos
MESOS_ZK=zk://10.0.1.11:2181,10.0.1.12:2181/chronos
MESOS_HTTP_ADDRESS=10.0.1.21
MESOS_HTTP_PORT=4400
MESOS_HOSTNAME=10.0.1.21
MESOS_ADVERTISE_IP=10.0.1.21
MESOS_MESOS_FRAMEWORK_NAME=chronos
MESOS_USER=mesos-py
MESOS_FAILOVER_TIMEOUT=604800
"""


def check_config(tmp_path, daemon: str, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"{daemon}.env"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "mesos_py.cli", "check-config", daemon, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_parse_environment_file_reads_systemd_syntax():
    text = "# comment\n; also a comment\n\nMESOS_A=1\nMESOS_B = 'two words'\nMESOS_C=\"x;y\"\n"
    assert parse_environment_file(text) == {
        "MESOS_A": "1",
        "MESOS_B": "two words",
        "MESOS_C": "x;y",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MESOS_IP 10.0.0.1\n", "line 1: expected NAME=value"),
        ("MESOS_IP=1\n\nMESOS_IP=2\n", "line 3: MESOS_IP is set twice"),
        ("1MESOS=x\n", "line 1: expected NAME=value"),
    ],
)
def test_parse_environment_file_rejects_malformed_lines(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_environment_file(text)


def test_good_files_of_every_daemon_are_accepted(tmp_path):
    good = (
        ("master", MASTER_OK),
        ("agent", AGENT_OK),
        ("marathon", MARATHON_OK),
        ("chronos", CHRONOS_OK),
    )
    for daemon, text in good:
        result = check_config(tmp_path, daemon, text)
        assert result.returncode == 0, result.stderr
        assert f"valid {daemon} configuration" in result.stdout


def test_a_bad_file_is_refused_with_exit_1_and_the_reason(tmp_path):
    result = check_config(tmp_path, "master", MASTER_OK.replace("MESOS_QUORUM", "MESOS_QUOROM"))
    assert result.returncode == 1
    assert (
        "MESOS_QUOROM is not a flag of mesos-py master (did you mean MESOS_QUORUM?)"
        in result.stderr
    )
    assert str(tmp_path / "master.env") in result.stderr


def test_an_unreadable_file_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mesos_py.cli", "check-config", "agent", str(tmp_path / "none")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot read it" in result.stderr


def test_a_zookeeper_url_in_a_file_is_checked_as_given_inline(tmp_path):
    url = tmp_path / "zk"
    url.write_text("zk://ops:secret@10.0.1.11:2181/mesos\n")
    check_environment("master", environ(MASTER_OK, MESOS_ZK=f"file://{url}"))
    url.write_text("zk://10.0.1.11/mesos\n")
    with pytest.raises(ConfigError, match=r"'10\.0\.1\.11' is not host:port"):
        check_environment("master", environ(MASTER_OK, MESOS_ZK=f"file://{url}"))


def environ(text: str, **changes: str | None) -> dict[str, str]:
    variables = parse_environment_file(text)
    for name, value in changes.items():
        if value is None:
            variables.pop(name)
        else:
            variables[name] = value
    return variables


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MESOS_ZK": "zk://10.0.1.11/mesos"}, "--zk: .*'10.0.1.11' is not host:port"),
        ({"MESOS_ZK": "zk://10.0.1.11:2181"}, "--zk: .*a path such as /mesos is required"),
        ({"MESOS_PORT": "fifty"}, "MESOS_PORT: invalid literal"),
        ({"MESOS_IP": "master1.example"}, "--ip=master1.example: not an IP address"),
        ({"MESOS_WEIGHTS": "eng"}, "--weights: invalid weight 'eng'"),
        ({"MESOS_REGISTRY": "etcd"}, "MESOS_REGISTRY: unknown registry 'etcd'"),
        ({"MESOS_OFFER_TIMEOUT": "soon"}, "MESOS_OFFER_TIMEOUT: "),
        ({"MESOS_ZK": "file:///nonexistent/zk"}, "--zk=file:///nonexistent/zk: cannot read it"),
    ],
)
def test_master_flags_are_checked_by_the_masters_parser(changes, message):
    with pytest.raises(ConfigError, match=message):
        check_environment("master", environ(MASTER_OK, **changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MESOS_MASTER": None}, "--master is required"),
        ({"MESOS_WORK_DIR": None}, "--work_dir is required"),
        ({"MESOS_MASTER": "http://10.0.0.1"}, "--master=http://10.0.0.1: expected host:port"),
        ({"MESOS_ISOLATION": "cgroups/gpu"}, "unknown isolator\\(s\\) cgroups/gpu"),
        ({"MESOS_RESOURCES": "cpus:lots"}, "--resources: "),
        ({"MESOS_PORT": "70000"}, "MESOS_PORT: port 70000 out of range"),
        ({"MESOS_SWITCH_USER": "maybe"}, "MESOS_SWITCH_USER: invalid boolean 'maybe'"),
        (
            {"MESOS_CGROUP_ROOT": "x"},
            "not a flag of mesos-py agent \\(did you mean MESOS_CGROUPS_ROOT\\?\\)",
        ),
    ],
)
def test_agent_flags_are_checked_by_the_agents_parser(changes, message):
    with pytest.raises(ConfigError, match=message):
        check_environment("agent", environ(AGENT_OK, **changes))


def test_variables_other_than_flags_are_left_alone():
    options = check_environment("agent", environ(AGENT_OK, PYTHONUNBUFFERED="1"))
    assert options.cgroups_root == "mesos-py"
    assert options.resources == "cpus:4;mem:8192"


@pytest.mark.parametrize(
    ("daemon", "changes", "message"),
    [
        ("marathon", {"MESOS_MASTER": None}, "--master is required"),
        ("marathon", {"MESOS_MASTER": "10.0.1.11"}, "--master=10.0.1.11: expected zk://"),
        ("marathon", {"MESOS_MASTER": "zk://10.0.1.11:2181"}, "--master: .*a path"),
        ("marathon", {"MESOS_ZK": "zk://10.0.1.11/marathon"}, "--zk: .*is not host:port"),
        ("marathon", {"MESOS_HTTP_ADDRESS": "m1"}, "--http_address=m1: not an IP address"),
        ("marathon", {"MESOS_HTTP_PORT": "eighty"}, "MESOS_HTTP_PORT: invalid literal"),
        ("marathon", {"MESOS_CHECKPOINT": "perhaps"}, "invalid boolean 'perhaps'"),
        (
            "marathon",
            {"MESOS_MESOS_US": "x"},
            "MESOS_MESOS_US is not a flag of mesos-py marathon \\(did you mean MESOS_MESOS_USER",
        ),
        ("chronos", {"MESOS_ADVERTISE_IP": "c1"}, "--advertise_ip=c1: not an IP address"),
        ("chronos", {"MESOS_FAILOVER_TIMEOUT": "forever"}, "MESOS_FAILOVER_TIMEOUT: "),
        ("chronos", {"MESOS_MASTER": "zk://10.0.1.11/mesos"}, "--master: .*is not host:port"),
        (
            "chronos",
            {"MESOS_FRAMEWORK_NAME": "x"},
            "not a flag of mesos-py chronos \\(did you mean MESOS_MESOS_FRAMEWORK_NAME\\?\\)",
        ),
    ],
)
def test_framework_flags_are_checked_by_their_parsers(daemon, changes, message):
    text = {"marathon": MARATHON_OK, "chronos": CHRONOS_OK}[daemon]
    with pytest.raises(ConfigError, match=message):
        check_environment(daemon, environ(text, **changes))
