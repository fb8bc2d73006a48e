"""Mesos-style flags: names, MESOS_* environment, booleans and durations."""

import argparse

import pytest

from mesos_py.common.durations import format_duration, parse_duration
from mesos_py.common.flags import (
    Flag,
    add_flags,
    boolean,
    duration,
    flags_as_strings,
    redacted,
    value_from_file,
)

FLAGS = [
    Flag("work_dir", "where"),
    Flag("port", "port", 5051, int),
    Flag("switch_user", "switch", True, boolean),
    Flag("ping", "ping", 15.0, duration),
]


def parse(argv, environ=None):
    parser = argparse.ArgumentParser()
    add_flags(parser, FLAGS, environ or {})
    return parser.parse_args(argv)


def test_defaults_apply_without_flags_or_environment():
    options = parse([])
    assert (options.work_dir, options.port, options.switch_user, options.ping) == (
        None,
        5051,
        True,
        15.0,
    )


def test_environment_supplies_values_and_the_command_line_wins():
    env = {"MESOS_PORT": "6000", "MESOS_WORK_DIR": "/env"}
    assert parse([], env).port == 6000
    assert parse(["--port=7000"], env).port == 7000
    assert parse([], env).work_dir == "/env"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--switch_user=false"], False), (["--no-switch_user"], False), (["--switch_user"], True)],
)
def test_boolean_spellings(argv, expected):
    assert parse(argv).switch_user is expected


def test_durations_take_mesos_units():
    assert parse(["--ping=100ms"]).ping == pytest.approx(0.1)
    assert parse(["--ping", "2mins"]).ping == 120.0


def test_a_bad_value_is_a_usage_error_naming_the_flag(capsys):
    with pytest.raises(SystemExit):
        parse(["--ping=soon"])
    assert "--ping" in capsys.readouterr().err


def test_flags_render_as_strings_for_the_state_endpoint():
    rendered = flags_as_strings(parse(["--work_dir=/w"]), FLAGS)
    assert rendered == {"work_dir": "/w", "port": "5051", "switch_user": "true", "ping": "15.0"}


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("zk://ops:secret@h1:2181,h2:2181/mesos", "zk://ops:***@h1:2181,h2:2181/mesos"),
        ("zk://ops:@h1:2181/mesos", "zk://ops:***@h1:2181/mesos"),
        ("zk://h1:2181/mesos", "zk://h1:2181/mesos"),
        ("file:///etc/mesos/zk", "file:///etc/mesos/zk"),
        ("10.0.0.1:5050", "10.0.0.1:5050"),
    ],
)
def test_a_zookeeper_password_is_never_shown(given, shown):
    assert redacted(given) == shown
    rendered = flags_as_strings(parse(["--work_dir", given]), FLAGS)
    assert rendered["work_dir"] == shown


def test_a_file_url_flag_is_read_from_its_file(tmp_path):
    url = tmp_path / "zk"
    url.write_text("zk://ops:secret@h1:2181/mesos\n")
    assert value_from_file(f"file://{url}", "zk") == "zk://ops:secret@h1:2181/mesos"
    assert value_from_file("zk://h1:2181/mesos", "zk") == "zk://h1:2181/mesos"
    with pytest.raises(ValueError, match=r"--zk=file:///nonexistent: cannot read it"):
        value_from_file("file:///nonexistent", "zk")
    (tmp_path / "empty").write_text(" \n")
    with pytest.raises(ValueError, match="the file is empty"):
        value_from_file(f"file://{tmp_path / 'empty'}", "zk")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5secs", 5), ("100ms", 0.1), ("15mins", 900), ("1weeks", 604800), ("2", 2), ("1.5hrs", 5400)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [5, 0.1, 900, 604800, 0])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
