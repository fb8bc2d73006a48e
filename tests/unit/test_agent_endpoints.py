"""The agent's operator endpoints on a real site, and /files confinement."""

import json
import os
from urllib.parse import quote

from twisted.internet import defer, reactor
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool, readBody

from tests.unit.test_agent_harness import FRAMEWORK_INFO, AgentHarness, command_task, wait_for

SCRIPT = (
    "echo hello; mkdir sub; echo inner > sub/f; ln -s /etc/passwd leak; "
    "ln -s /etc escape_dir; ln -s stdout inner_link; ln -s ../../../../../../../.. up; "
    "ln -s ../../../../../../../../../../../.. root; "
    "mkfifo fifo; sleep 30"
)


class EndpointsTest(unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        self.h = AgentHarness(self, "--attributes", "rack:r1;level:3")
        self.h.master.auto_ack = True
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.http = Agent(reactor, pool=self.pool)
        self.addCleanup(self.pool.closeCachedConnections)
        yield self.h.registered()
        self.h.run_task(command_task("t1", {"value": SCRIPT}))
        yield self.h.wait_states("t1", "TASK_RUNNING")
        self.run_dir = os.path.realpath(self.h.sandbox("t1"))
        yield wait_for(lambda: os.path.exists(os.path.join(self.run_dir, "fifo")), what="setup")

    @defer.inlineCallbacks
    def get(self, path):
        response = yield self.http.request(b"GET", f"{self.h.url}{path}".encode())
        body = yield readBody(response)
        return response.code, body, response.headers

    @defer.inlineCallbacks
    def get_json(self, path):
        code, body, _ = yield self.get(path)
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def files(self, endpoint, path, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.get(f"/files/{endpoint}?path={quote(path)}" + (f"&{query}" if query else ""))

    @defer.inlineCallbacks
    def test_state(self):
        for path in ("/state", "/slave(1)/state", "/state.json"):
            state = yield self.get_json(path)
            self.assertEqual(state["id"], "M-S0")
            self.assertEqual(state["pid"], f"slave(1)@127.0.0.1:{self.h.service.port}")
            self.assertEqual(state["version"], "1.11.0")
            self.assertEqual(state["resources"]["cpus"], 4)
            self.assertEqual(state["resources"]["ports"], "[31000-32000]")
            self.assertEqual(state["attributes"], {"rack": "r1", "level": 3})
            self.assertEqual(state["flags"]["registration_backoff_factor"], "10ms")
            self.assertEqual(state["flags"]["switch_user"], "true")
            (framework,) = state["frameworks"]
            self.assertEqual(framework["id"], "F1")
            self.assertEqual(framework["user"], FRAMEWORK_INFO["user"])
            (executor,) = framework["executors"]
            self.assertEqual(executor["id"], "t1")
            self.assertEqual(os.path.realpath(executor["directory"]), self.run_dir)
            (task,) = executor["tasks"]
            self.assertEqual(task["id"], "t1")
            self.assertEqual(task["state"], "TASK_RUNNING")
            self.assertEqual(task["slave_id"], "M-S0")
            self.assertEqual(task["resources"]["mem"], 32)
            self.assertEqual(executor["queued_tasks"], [])
            self.assertEqual(state["unreserved_resources_allocated"]["cpus"], 0.1)
        _code, body, _headers = yield self.get("/state?jsonp=cb")
        self.assertTrue(body.startswith(b"cb(") and body.endswith(b");"))

    @defer.inlineCallbacks
    def test_metrics_health_version_flags(self):
        metrics = yield self.get_json("/metrics/snapshot")
        self.assertEqual(metrics["slave/registered"], 1)
        self.assertEqual(metrics["slave/tasks_running"], 1)
        self.assertEqual(metrics["slave/executors_running"], 1)
        self.assertEqual(metrics["slave/frameworks_active"], 1)
        self.assertEqual(metrics["slave/cpus_total"], 4)
        self.assertAlmostEqual(metrics["slave/cpus_used"], 0.1)
        self.assertAlmostEqual(metrics["slave/cpus_percent"], 0.025)
        for key in (
            "slave/uptime_secs",
            "slave/gpus_total",
            "slave/tasks_lost",
            "slave/executors_terminated",
            "slave/invalid_framework_messages",
        ):
            self.assertIn(key, metrics)
        for path in ("/health", "/slave(1)/health"):
            code, body, _ = yield self.get(path)
            self.assertEqual((code, body), (200, b""))
        version = yield self.get_json("/version")
        self.assertEqual(version["version"], "1.11.0")
        flags = yield self.get_json("/flags")
        self.assertEqual(flags["flags"]["isolation"], "posix/cpu,posix/mem")

    @defer.inlineCallbacks
    def test_browse(self):
        code, body, _ = yield self.files("browse", self.run_dir)
        self.assertEqual(code, 200)
        entries = {os.path.basename(e["path"]): e for e in json.loads(body)}
        self.assertLessEqual({"stdout", "stderr", "sub", "leak", "escape_dir"}, set(entries))
        self.assertEqual(entries["stdout"]["size"], 6)
        self.assertTrue(entries["sub"]["mode"].startswith("d"))
        self.assertTrue(entries["leak"]["mode"].startswith("l"))  # listed, not followed
        self.assertEqual(
            entries["stdout"]["uid"], "root" if os.geteuid() == 0 else entries["stdout"]["uid"]
        )
        self.assertEqual(entries["stdout"]["path"], os.path.join(self.run_dir, "stdout"))
        # the latest link, and Mesos' virtual path
        for path in (
            self.h.sandbox("t1"),
            "/frameworks/F1/executors/t1/runs/latest",
        ):
            code, body, _ = yield self.files("browse", path)
            self.assertEqual(code, 200, path)
            self.assertIn("stdout", {os.path.basename(e["path"]) for e in json.loads(body)})
        code, body, _ = yield self.files("browse", os.path.join(self.run_dir, "stdout"))
        self.assertEqual(json.loads(body)[0]["size"], 6)

    @defer.inlineCallbacks
    def test_read(self):
        stdout = os.path.join(self.run_dir, "stdout")
        code, body, _ = yield self.files("read", stdout, offset=0)
        self.assertEqual(json.loads(body), {"data": "hello\n", "offset": 0})
        code, body, _ = yield self.files("read", stdout)
        self.assertEqual(json.loads(body), {"data": "", "offset": 6})
        code, body, _ = yield self.files("read", stdout, offset=-1)
        self.assertEqual(json.loads(body), {"data": "", "offset": 6})
        code, body, _ = yield self.files("read", stdout, offset=1, length=3)
        self.assertEqual(json.loads(body), {"data": "ell", "offset": 1})
        code, body, _ = yield self.files("read", stdout, offset=100)
        self.assertEqual(json.loads(body), {"data": "", "offset": 100})
        code, body, _ = yield self.files("read", os.path.join(self.run_dir, "inner_link"), offset=0)
        self.assertEqual(json.loads(body)["data"], "hello\n")
        code, body, _ = yield self.files(
            "read", "/frameworks/F1/executors/t1/runs/latest/sub/f", offset=0
        )
        self.assertEqual(json.loads(body)["data"], "inner\n")
        for params, fragment in (
            ({"offset": -5}, b"Negative"),
            ({"offset": "abc"}, b"parse"),
            ({"offset": 0, "length": -2}, b"Negative"),
        ):
            code, body, _ = yield self.files("read", stdout, **params)
            self.assertEqual(code, 400)
            self.assertIn(fragment, body)
        for path in (self.run_dir, os.path.join(self.run_dir, "fifo")):
            code, body, _ = yield self.files("read", path, offset=0)
            self.assertEqual(code, 400, path)

    @defer.inlineCallbacks
    def test_download(self):
        code, body, headers = yield self.files("download", os.path.join(self.run_dir, "stdout"))
        self.assertEqual((code, body), (200, b"hello\n"))
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/octet-stream"])
        self.assertIn(b"stdout", headers.getRawHeaders(b"content-disposition")[0])
        code, _, _ = yield self.files("download", self.run_dir)
        self.assertEqual(code, 400)

    @defer.inlineCallbacks
    def test_confinement(self):
        outside = [
            "/etc/passwd",
            "/etc",
            "/",
            "etc/passwd",
            self.run_dir + "/../../../../../../../../../etc/passwd",
            os.path.join(self.run_dir, "leak"),
            os.path.join(self.run_dir, "escape_dir"),
            os.path.join(self.run_dir, "escape_dir", "passwd"),
            os.path.join(self.run_dir, "up"),
            os.path.join(self.run_dir, "up", "executor.py"),
            os.path.join(self.run_dir, "root", "etc", "passwd"),
            self.h.work_dir,
            os.path.join(self.h.work_dir, "executor.py"),
            "/frameworks/../../../../etc/passwd",
            "/frameworks/F1/executors/t1/runs/latest/leak",
            self.run_dir + "/stdout\0",
            os.path.join(self.run_dir, "missing"),
        ]
        for path in outside:
            for endpoint in ("browse", "read", "download"):
                code, body, _ = yield self.files(endpoint, path, offset=0)
                self.assertEqual(code, 404, f"{endpoint} {path}: {body!r}")
                self.assertNotIn(b"root:", body)
        for endpoint in ("browse", "read", "download"):
            code, body, _ = yield self.get(f"/files/{endpoint}")
            self.assertEqual(code, 400)
            code, body, _ = yield self.files(endpoint, "")
            self.assertEqual(code, 400)

    @defer.inlineCallbacks
    def test_queued_tasks_appear_in_state(self):
        task = self.h.executor_task("c1")
        task["executor"]["command"] = {"value": "sleep 30"}
        self.h.run_task(task)
        yield wait_for(lambda: "E1" in self.h.agent.frameworks["F1"].executors)
        state = yield self.get_json("/state")
        executors = {e["id"]: e for e in state["frameworks"][0]["executors"]}
        (queued,) = executors["E1"]["queued_tasks"]
        self.assertEqual(queued["id"], "c1")
        self.assertEqual(queued["executor_id"], "E1")
        metrics = yield self.get_json("/metrics/snapshot")
        self.assertEqual(metrics["slave/executors_registering"], 1)
        self.assertEqual(metrics["slave/tasks_staging"], 1)
