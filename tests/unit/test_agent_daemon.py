"""The agent daemon against a scripted master: registration, tasks, executors, updates."""

import json
import os
import signal

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from mesos_py.common.protocol import decode_status_uuid
from tests.unit.test_agent_harness import (
    FRAMEWORK_INFO,
    AgentHarness,
    b64,
    command_task,
    wait_for,
)


def sleep(seconds):
    return task.deferLater(reactor, seconds, lambda: None)


class RegistrationTest(unittest.TestCase):
    @defer.inlineCallbacks
    def test_registers_with_agent_info_and_bound_port(self):
        h = AgentHarness(self, "--attributes", "rack:2;os:linux", "--hostname", "node1")
        yield h.registered()
        (call,) = h.master.of_type("REGISTER")
        self.assertNotIn("agent_id", call)
        info = call["register"]["agent_info"]
        self.assertEqual(info["hostname"], "node1")
        self.assertEqual(info["port"], h.service.port)
        self.assertNotEqual(h.service.port, 0)
        self.assertEqual(h.agent.port, h.service.port)
        names = {r["name"] for r in info["resources"]}
        self.assertEqual(names, {"cpus", "mem", "disk", "ports"})
        self.assertEqual(
            info["attributes"][0], {"name": "rack", "type": "SCALAR", "scalar": {"value": 2}}
        )
        self.assertEqual(call["register"]["version"], "1.11.0")
        self.assertEqual(h.agent.agent_id, "M-S0")
        self.assertEqual(os.readlink(os.path.join(h.work_dir, "slaves", "latest")), "M-S0")
        self.assertEqual(h.agent.metrics()["slave/registered"], 1)

    @defer.inlineCallbacks
    def test_ping_is_answered_with_pong_on_the_link(self):
        h = AgentHarness(self)
        yield h.registered()
        h.master.send("PING")
        yield wait_for(lambda: h.master.of_type("PONG"), what="PONG")
        index = h.master.calls.index(h.master.of_type("PONG")[0])
        self.assertEqual(h.master.stream_ids[index], h.master.link.stream_id)
        self.assertEqual(h.master.of_type("PONG")[0]["agent_id"], {"value": "M-S0"})

    @defer.inlineCallbacks
    def test_closed_link_reregisters_with_the_same_id_and_its_tasks(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "sleep 30"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        h.master.link.close()
        yield wait_for(lambda: len(h.master.of_type("REGISTER")) == 2, what="re-registration")
        again = h.master.of_type("REGISTER")[1]
        self.assertEqual(again["agent_id"], {"value": "M-S0"})
        self.assertEqual(again["register"]["agent_info"]["id"], {"value": "M-S0"})
        (reported,) = again["register"]["tasks"]
        self.assertEqual(reported["task_id"], {"value": "t1"})
        self.assertEqual(reported["framework_id"], {"value": "F1"})
        self.assertEqual(reported["state"], "TASK_RUNNING")
        self.assertNotIn("executor_id", reported)  # a command task
        self.assertEqual(again["register"]["frameworks"][0]["id"], {"value": "F1"})
        # the unacknowledged RUNNING update is sent again on the new link
        yield wait_for(lambda: h.master.states("t1") == ["TASK_RUNNING", "TASK_RUNNING"])

    @defer.inlineCallbacks
    def test_no_ping_within_the_timeout_reregisters(self):
        h = AgentHarness(self)
        h.master.ping_interval = 0.05  # 5 missed pings: 0.25 s
        yield h.registered()
        yield wait_for(lambda: len(h.master.of_type("REGISTER")) >= 2, what="re-registration")
        self.assertEqual(h.master.of_type("REGISTER")[1]["agent_id"], {"value": "M-S0"})

    @defer.inlineCallbacks
    def test_registration_retries_with_backoff_until_admitted(self):
        h = AgentHarness(self)
        h.master.register_code = 503
        yield wait_for(lambda: len(h.master.of_type("REGISTER")) >= 3, what="retries")
        self.assertFalse(h.agent.link.registered)
        h.master.register_code = None
        yield h.registered()

    @defer.inlineCallbacks
    def test_refused_agent_kills_its_tasks_and_registers_afresh(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "sleep 30"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        h.master.register_code = 403
        h.master.send("ERROR", {"message": "Agent is unreachable"})
        yield wait_for(lambda: not h.agent.frameworks, what="tasks killed")
        h.master.register_code = None
        yield wait_for(lambda: h.agent.agent_id == "M-S1", what="fresh registration")
        last = h.master.of_type("REGISTER")[-1]
        self.assertNotIn("agent_id", last)
        self.assertEqual(last["register"]["tasks"], [])

    @defer.inlineCallbacks
    def test_403_on_register_drops_the_id(self):
        h = AgentHarness(self)
        yield h.registered()
        h.master.register_code = 403
        h.master.link.close()
        yield wait_for(lambda: len(h.master.of_type("REGISTER")) >= 3, what="retries")
        self.assertNotIn("agent_id", h.master.of_type("REGISTER")[-1])

    @defer.inlineCallbacks
    def test_malformed_events_are_ignored(self):
        h = AgentHarness(self)
        yield h.registered()
        for event in (
            {"type": "RUN_TASK"},
            {"type": "RUN_TASK", "run_task": {"task": {}}},
            {"type": "RUN_TASK", "run_task": {"framework_info": {"id": 5}, "task": []}},
            {"type": "RUN_TASK_GROUP", "run_task_group": {"framework_info": FRAMEWORK_INFO}},
            {"type": "KILL_TASK", "kill_task": {"task_id": "x"}},
            {"type": "ACKNOWLEDGE", "acknowledge": {"framework_id": {"value": "F"}}},
            {"type": "SHUTDOWN_EXECUTOR", "shutdown_executor": None},
            {"type": "MESSAGE", "message": {"framework_id": {"value": "F"}}},
            {"type": "RUN_TASK", "run_task": {"framework_info": {"id": {"value": "F9"}}}},
            {
                "type": "RUN_TASK",
                "run_task": {"framework_info": {"id": {"value": "F9"}}, "task": {"name": "x"}},
            },
            {
                "type": "RUN_TASK_GROUP",
                "run_task_group": {
                    "framework_info": {"id": {"value": "F9"}},
                    "executor": {"executor_id": {"value": "G"}},
                    "task_group": {"tasks": []},
                },
            },
            {
                "type": "RUN_TASK",
                "run_task": {
                    "framework_info": {"id": {"value": "F9"}, "capabilities": 7},
                    "task": command_task("x", {"value": "true"}),
                },
            },
            {"type": "NO_SUCH_EVENT"},
            ["not", "an", "object"],
        ):
            h.master.link.send(event)
        h.run_task(command_task("t1", {"value": "true"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        self.assertTrue(h.agent.link.registered)
        self.assertEqual(len(h.master.of_type("REGISTER")), 1)
        self.assertEqual(list(h.agent.frameworks), ["F1"])


class CommandTaskTest(unittest.TestCase):
    @defer.inlineCallbacks
    def test_updates_are_sent_head_first_and_complete_on_ack(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "echo hello"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        yield sleep(0.2)  # the task has finished by now, but RUNNING is not acknowledged
        self.assertEqual(h.master.states("t1"), ["TASK_RUNNING"])
        running = h.master.updates()[0]
        self.assertEqual(running["source"], "SOURCE_EXECUTOR")
        self.assertEqual(running["executor_id"], {"value": "t1"})
        self.assertEqual(running["agent_id"], {"value": "M-S0"})
        self.assertIsInstance(running["timestamp"], float)
        self.assertEqual(len(decode_status_uuid(running["uuid"])), 16)
        update_call = h.master.of_type("UPDATE")[0]["update"]["updates"][0]
        self.assertEqual(update_call["framework_id"], {"value": "F1"})
        self.assertNotIn("latest_state", update_call)
        h.master.ack(update_call)
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_FINISHED")
        finished = h.master.updates()[-1]
        self.assertEqual(finished["message"], "Command exited with status 0")
        h.master.ack({"framework_id": {"value": "F1"}, "status": finished})
        yield wait_for(lambda: not h.agent.frameworks, what="framework completed")
        (framework,) = h.agent.completed_frameworks
        (executor,) = framework.completed_executors
        self.assertEqual([t.state for t in executor.completed_tasks], ["TASK_FINISHED"])
        with open(os.path.join(h.sandbox("t1"), "stdout")) as f:
            self.assertEqual(f.read(), "hello\n")

    @defer.inlineCallbacks
    def test_unacknowledged_update_is_retried_with_the_latest_state(self):
        h = AgentHarness(self, "--status_update_retry_interval_min", "100ms")
        yield h.registered()
        h.run_task(command_task("t1", {"value": "true"}))
        yield wait_for(lambda: len(h.master.states("t1")) >= 3, what="retries")
        self.assertEqual(set(h.master.states("t1")), {"TASK_RUNNING"})
        self.assertEqual(len({s["uuid"] for s in h.master.updates()}), 1)
        entries = [u for c in h.master.of_type("UPDATE") for u in c["update"]["updates"]]
        self.assertNotIn("latest_state", entries[0])
        self.assertEqual(entries[-1]["latest_state"], "TASK_FINISHED")

    @defer.inlineCallbacks
    def test_exit_status_and_signal_messages(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(command_task("t1", {"value": "exit 3"}))
        h.run_task(command_task("t2", {"value": "kill -USR1 $$"}))
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_FAILED")
        yield h.wait_states("t2", "TASK_RUNNING", "TASK_FAILED")
        messages = {s["task_id"]["value"]: s.get("message") for s in h.master.updates()}
        self.assertEqual(messages["t1"], "Command exited with status 3")
        self.assertEqual(
            messages["t2"], f"Command terminated with signal {signal.strsignal(signal.SIGUSR1)}"
        )
        metrics = h.agent.metrics()
        self.assertEqual(metrics["slave/tasks_failed"], 2)
        self.assertEqual(metrics["slave/valid_status_updates"], 4)

    @defer.inlineCallbacks
    def test_argv_form_environment_and_sandbox(self):
        h = AgentHarness(self, "--executor_environment_variables", '{"PATH": "/usr/bin:/bin"}')
        h.master.auto_ack = True
        yield h.registered()
        command = {
            "shell": False,
            "value": "/bin/sh",
            "arguments": [
                "myname",
                "-c",
                """echo "$0 $1 $GREETING $PATH"; tr '\\0' ' ' < /proc/$$/cmdline; echo; env""",
                "zero",
                "one",
            ],
            "environment": {"variables": [{"name": "GREETING", "value": "hi"}]},
        }
        task = command_task("t1", command)
        for resource in task["resources"]:
            resource["allocation_info"] = {"role": "eng"}
        h.run_task(task)
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_FINISHED")
        with open(os.path.join(h.sandbox("t1"), "stdout")) as f:
            first, cmdline, *env_lines = f.read().splitlines()
        self.assertEqual(first, "zero one hi /usr/bin:/bin")
        self.assertTrue(cmdline.startswith("myname -c "))
        env = dict(line.split("=", 1) for line in env_lines if "=" in line)
        self.assertEqual(env["MESOS_FRAMEWORK_ID"], "F1")
        self.assertEqual(env["MESOS_EXECUTOR_ID"], "t1")
        self.assertEqual(env["MESOS_SANDBOX"], os.path.realpath(h.sandbox("t1")))
        self.assertEqual(os.path.realpath(env["PWD"]), os.path.realpath(h.sandbox("t1")))
        self.assertNotIn("MESOS_CHECKPOINT", env)
        self.assertEqual(env["MESOS_ALLOCATION_ROLE"], "eng")

    @defer.inlineCallbacks
    def test_kill_sends_killing_then_killed_and_escalates(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(command_task("t1", {"value": "trap '' TERM; sleep 30"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        yield sleep(0.1)  # let the shell install its trap
        h.master.send(
            "KILL_TASK",
            {
                "framework_id": {"value": "F1"},
                "task_id": {"value": "t1"},
                "kill_policy": {"grace_period": {"nanoseconds": 200_000_000}},
            },
        )
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED")
        killed = h.master.updates()[-1]
        self.assertEqual(
            killed["message"], f"Command terminated with signal {signal.strsignal(signal.SIGKILL)}"
        )

    @defer.inlineCallbacks
    def test_kill_without_killing_capability_uses_the_task_policy(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        framework = dict(FRAMEWORK_INFO, capabilities=[])
        policy = {"grace_period": {"nanoseconds": 5_000_000_000}}
        h.run_task(command_task("t1", {"value": "sleep 30"}, kill_policy=policy), framework)
        yield h.wait_states("t1", "TASK_RUNNING")
        h.master.send("KILL_TASK", {"framework_id": {"value": "F1"}, "task_id": {"value": "t1"}})
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_KILLED")
        self.assertEqual(
            h.master.updates()[-1]["message"],
            f"Command terminated with signal {signal.strsignal(signal.SIGTERM)}",
        )

    @defer.inlineCallbacks
    def test_launch_failures(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(command_task("t1", {"shell": False, "value": "/no/such/program"}))
        h.run_task(command_task("t2", {"value": "true", "user": "no-such-user-xyz"}))
        h.run_task(command_task("t3", {"shell": True}))
        h.run_task(command_task("../escape", {"value": "true"}))
        h.run_task(command_task("t4", {"value": "true", "user": 5}))
        h.run_task(command_task("t5", {"value": "true"}, container={"type": "DOCKER"}))
        for task_id in ("t1", "t2", "t3", "../escape", "t4", "t5"):
            yield h.wait_states(task_id, "TASK_FAILED")
        by_task = {s["task_id"]["value"]: s for s in h.master.updates()}
        for status in by_task.values():
            self.assertEqual(status["reason"], "REASON_CONTAINER_LAUNCH_FAILED")
            self.assertEqual(status["source"], "SOURCE_AGENT")
        self.assertIn("/no/such/program", by_task["t1"]["message"])
        if os.geteuid() == 0:
            self.assertIn("no-such-user-xyz", by_task["t2"]["message"])
        self.assertFalse(os.path.exists(os.path.join(h.work_dir, "slaves", "escape")))
        self.assertIn("Invalid user", by_task["t4"]["message"])
        self.assertIn("images", by_task["t5"]["message"])
        self.assertEqual(h.agent.metrics()["slave/container_launch_errors"], 6)

    @defer.inlineCallbacks
    def test_runs_as_the_framework_user(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root")
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(command_task("t1", {"value": "id -un"}), dict(FRAMEWORK_INFO, user="nobody"))
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_FINISHED")
        with open(os.path.join(h.sandbox("t1"), "stdout")) as f:
            self.assertEqual(f.read(), "nobody\n")
        self.assertEqual(os.stat(h.sandbox("t1")).st_uid, 65534)

    @defer.inlineCallbacks
    def test_no_user_switch_with_switch_user_false(self):
        h = AgentHarness(self, "--switch_user=false")
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(command_task("t1", {"value": "id -u", "user": "no-such-user-xyz"}))
        yield h.wait_states("t1", "TASK_RUNNING", "TASK_FINISHED")
        with open(os.path.join(h.sandbox("t1"), "stdout")) as f:
            self.assertEqual(f.read(), f"{os.geteuid()}\n")

    @defer.inlineCallbacks
    def test_kill_of_unknown_task_reports_it_lost(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(command_task("t1", {"value": "sleep 30"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        h.master.send("KILL_TASK", {"framework_id": {"value": "F1"}, "task_id": {"value": "zz"}})
        yield h.wait_states("zz", "TASK_LOST")
        self.assertEqual(h.master.updates()[-1]["reason"], "REASON_EXECUTOR_TERMINATED")

    @defer.inlineCallbacks
    def test_shutdown_framework_kills_its_tasks_and_forgets_it(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "sleep 30"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        pid = self._task_pid(h)
        h.master.send("SHUTDOWN_FRAMEWORK", {"framework_id": {"value": "F1"}})
        yield wait_for(lambda: not h.agent.frameworks, what="framework removed")
        self.assertRaises(ProcessLookupError, os.kill, pid, 0)
        self.assertEqual(h.master.states("t1"), ["TASK_RUNNING"])  # the master forgot it

    @defer.inlineCallbacks
    def test_shutdown_framework_forgets_tasks_waiting_for_acks(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "true"}))
        h.run_task(command_task("../bad", {"value": "true"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        executor = h.agent.frameworks["F1"].executors["t1"]
        yield wait_for(lambda: executor.state.value == "TERMINATED", what="task end")
        h.master.send("SHUTDOWN_FRAMEWORK", {"framework_id": {"value": "F1"}})
        yield wait_for(lambda: not h.agent.frameworks, what="framework removed")
        self.assertEqual(h.agent.updates.unacknowledged(), [])
        self.assertEqual(h.agent.metrics()["slave/frameworks_active"], 0)

    def _task_pid(self, h):
        (framework,) = h.agent.frameworks.values()
        (executor,) = framework.executors.values()
        (run,) = executor.runner._runs.values()
        return run.process.pid

    @defer.inlineCallbacks
    def test_updates_queued_behind_a_call_are_batched(self):
        h = AgentHarness(self)
        yield h.registered()
        h.master.hold_calls = True
        for n in range(4):
            h.run_task(command_task(f"t{n}", {"value": "sleep 30"}))
        yield wait_for(lambda: len(h.master.held) == 1, what="first call")
        yield sleep(0.2)
        self.assertEqual(len(h.master.held), 1)  # one call in flight at a time
        h.master.hold_calls = False
        h.master.release()
        yield wait_for(lambda: len(h.master.updates()) == 4, what="all updates")
        batches = [len(c["update"]["updates"]) for c in h.master.of_type("UPDATE")]
        self.assertEqual(batches, [1, 3])


class TaskGroupTest(unittest.TestCase):
    @defer.inlineCallbacks
    def test_group_runs_in_task_sandboxes_and_fails_as_a_whole(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        executor = {"executor_id": {"value": "G1"}, "type": "DEFAULT"}
        tasks = [
            command_task("a", {"value": "echo $MESOS_SANDBOX; sleep 30"}),
            command_task("b", {"value": "sleep 0.3; exit 1"}),
        ]
        h.master.send(
            "RUN_TASK_GROUP",
            {
                "framework_info": FRAMEWORK_INFO,
                "executor": executor,
                "task_group": {"tasks": tasks},
            },
        )
        yield h.wait_states("b", "TASK_RUNNING", "TASK_FAILED")
        yield h.wait_states("a", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED")
        statuses = h.master.updates()
        self.assertTrue(all(s["executor_id"] == {"value": "G1"} for s in statuses))
        a_sandbox = os.path.join(h.sandbox("G1"), "tasks", "a")
        with open(os.path.join(a_sandbox, "stdout")) as f:
            self.assertEqual(os.path.realpath(f.read().strip()), os.path.realpath(a_sandbox))
        (exited,) = yield wait_for(lambda: h.master.of_type("EXECUTOR_EXITED"))
        self.assertEqual(exited["executor_exited"]["executor_id"], {"value": "G1"})


class CustomExecutorTest(unittest.TestCase):
    @defer.inlineCallbacks
    def test_subscribe_launch_ack_message_and_shutdown(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(h.executor_task("c1", "finish"))
        yield h.wait_states("c1", "TASK_RUNNING")
        events = h.executor_events()
        env = json.loads(events[0][4:])
        self.assertEqual(env["MESOS_AGENT_ENDPOINT"], f"127.0.0.1:{h.service.port}")
        self.assertEqual(env["MESOS_FRAMEWORK_ID"], "F1")
        self.assertEqual(env["MESOS_EXECUTOR_ID"], "E1")
        self.assertEqual(env["MESOS_SLAVE_ID"], "M-S0")
        self.assertEqual(env["MESOS_SLAVE_PID"], f"slave(1)@127.0.0.1:{h.service.port}")
        self.assertEqual(env["MESOS_HTTP_COMMAND_EXECUTOR"], "0")
        self.assertEqual(env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"], "5secs")
        self.assertEqual(
            os.path.realpath(env["MESOS_DIRECTORY"]), os.path.realpath(h.sandbox("E1"))
        )
        self.assertNotIn("MESOS_CHECKPOINT", env)
        pgid, pid = events[1].split()[1], events[1].split()[3]
        self.assertEqual(pgid, pid)
        self.assertNotEqual(int(pgid), os.getpgid(0))
        self.assertEqual(events[2], "SUBSCRIBE 200 None chunked")
        subscribed = events[3]["subscribed"]
        self.assertEqual(subscribed["executor_info"]["executor_id"], {"value": "E1"})
        self.assertEqual(subscribed["framework_info"]["id"], {"value": "F1"})
        self.assertEqual(subscribed["agent_info"]["id"], {"value": "M-S0"})
        self.assertIn("container_id", subscribed)
        self.assertEqual(events[4]["launch"]["task"]["task_id"], {"value": "c1"})

        running = h.master.updates()[0]
        self.assertEqual(running["agent_id"], {"value": "M-S0"})
        self.assertEqual(running["executor_id"], {"value": "E1"})
        self.assertEqual(running["source"], "SOURCE_EXECUTOR")
        update = h.master.of_type("UPDATE")[0]["update"]["updates"][0]
        h.master.ack(update)
        yield h.wait_states("c1", "TASK_RUNNING", "TASK_FINISHED")
        yield wait_for(
            lambda: any(
                isinstance(e, dict) and e["type"] == "ACKNOWLEDGED" for e in h.executor_events()
            ),
            what="ACKNOWLEDGED",
        )
        acked = [e for e in h.executor_events() if isinstance(e, dict)][-1]
        self.assertEqual(
            acked["acknowledged"], {"task_id": {"value": "c1"}, "uuid": running["uuid"]}
        )

        # a second task goes to the running executor as a LAUNCH event
        h.master.auto_ack = True
        h.master.ack(h.master.of_type("UPDATE")[-1]["update"]["updates"][0])
        h.run_task(h.executor_task("c2"))
        yield h.wait_states("c2", "TASK_RUNNING")
        self.assertEqual(len(h.master.of_type("REGISTER")), 1)

        # messages both ways
        h.master.send(
            "MESSAGE",
            {"framework_id": {"value": "F1"}, "executor_id": {"value": "E1"}, "data": b64("ping")},
        )
        (message,) = yield wait_for(lambda: h.master.of_type("MESSAGE"), what="MESSAGE")
        self.assertEqual(
            message["message"],
            {"framework_id": {"value": "F1"}, "executor_id": {"value": "E1"}, "data": b64("ping")},
        )
        self.assertEqual(h.agent.metrics()["slave/valid_framework_messages"], 1)

        h.master.send(
            "SHUTDOWN_EXECUTOR", {"framework_id": {"value": "F1"}, "executor_id": {"value": "E1"}}
        )
        (exited,) = yield wait_for(lambda: h.master.of_type("EXECUTOR_EXITED"), what="exit")
        self.assertEqual(exited["executor_exited"]["status"], 0)
        self.assertIn({"type": "SHUTDOWN"}, h.executor_events())
        # c2 never finished: the agent fails it for the executor
        yield h.wait_states("c2", "TASK_RUNNING", "TASK_FAILED")
        failed = h.master.updates()[-1]
        self.assertEqual(failed["source"], "SOURCE_AGENT")
        self.assertEqual(failed["reason"], "REASON_EXECUTOR_TERMINATED")
        self.assertEqual(failed["message"], "Executor terminated")

    @defer.inlineCallbacks
    def test_executor_exit_fails_its_tasks(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        h.run_task(h.executor_task("c1", "exit7"))
        yield h.wait_states("c1", "TASK_RUNNING", "TASK_FAILED")
        (exited,) = yield wait_for(lambda: h.master.of_type("EXECUTOR_EXITED"), what="exit")
        self.assertEqual(exited["executor_exited"]["status"], 7 << 8)
        self.assertEqual(h.master.updates()[-1]["reason"], "REASON_EXECUTOR_TERMINATED")
        yield wait_for(lambda: not h.agent.frameworks, what="executor removed")

    @defer.inlineCallbacks
    def test_registration_timeout(self):
        h = AgentHarness(self, "--executor_registration_timeout", "300ms")
        h.master.auto_ack = True
        yield h.registered()
        task = h.executor_task("c1")
        task["executor"]["command"] = {"value": "sleep 30"}
        h.run_task(task)
        yield h.wait_states("c1", "TASK_FAILED")
        failed = h.master.updates()[-1]
        self.assertEqual(failed["reason"], "REASON_EXECUTOR_REGISTRATION_TIMEOUT")
        self.assertEqual(failed["source"], "SOURCE_AGENT")
        (exited,) = yield wait_for(lambda: h.master.of_type("EXECUTOR_EXITED"), what="exit")
        self.assertEqual(exited["executor_exited"]["status"], signal.SIGKILL)

    @defer.inlineCallbacks
    def test_kill_of_a_task_queued_for_a_registering_executor(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        task = h.executor_task("c1")
        task["executor"]["command"] = {"value": "sleep 30"}
        h.run_task(task)
        yield wait_for(lambda: h.agent.frameworks, what="executor")
        h.master.send("KILL_TASK", {"framework_id": {"value": "F1"}, "task_id": {"value": "c1"}})
        yield h.wait_states("c1", "TASK_KILLED")
        self.assertEqual(h.master.updates()[0]["reason"], "REASON_TASK_KILLED_DURING_LAUNCH")
        # with nothing left to run, the executor is shut down
        yield wait_for(lambda: h.master.of_type("EXECUTOR_EXITED"), what="exit")

    @defer.inlineCallbacks
    def test_checkpointing_framework_gets_mesos_checkpoint(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        framework = dict(FRAMEWORK_INFO, checkpoint=True)
        task = h.executor_task("c1", "finish", shutdown_grace_period={"nanoseconds": 2_500_000})
        h.run_task(task, framework)
        yield h.wait_states("c1", "TASK_RUNNING", "TASK_FINISHED")
        env = json.loads(h.executor_events()[0][4:])
        self.assertEqual(env["MESOS_CHECKPOINT"], "1")
        self.assertEqual(env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"], "2.5ms")

    @defer.inlineCallbacks
    def test_failed_executor_launch(self):
        h = AgentHarness(self)
        h.master.auto_ack = True
        yield h.registered()
        task = h.executor_task("c1")
        task["executor"]["command"] = {"shell": False, "value": "/no/such/executor"}
        h.run_task(task)
        yield h.wait_states("c1", "TASK_FAILED")
        self.assertEqual(h.master.updates()[-1]["reason"], "REASON_CONTAINER_LAUNCH_FAILED")
        (exited,) = yield wait_for(lambda: h.master.of_type("EXECUTOR_EXITED"), what="exit")
        self.assertEqual(exited["executor_exited"]["status"], -1)


class StopTest(unittest.TestCase):
    @defer.inlineCallbacks
    def test_stop_kills_tasks_and_unregisters(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "sleep 30"}))
        h.run_task(h.executor_task("c1"))
        yield h.wait_states("t1", "TASK_RUNNING")
        yield h.wait_states("c1", "TASK_RUNNING")
        pids = [
            run.process.pid
            for f in h.agent.frameworks.values()
            for e in f.executors.values()
            for run in getattr(e.runner, "_runs", {}).values()
        ]
        pids.append(h.agent.frameworks["F1"].executors["E1"].runner.process.pid)
        h.service.shut_down_on_stop = True
        yield h.service.stopService()
        for pid in pids:
            self.assertRaises(ProcessLookupError, os.kill, pid, 0)
        self.assertEqual(len(h.master.of_type("UNREGISTER")), 1)
