"""POST /api/v1/executor on a real agent: event shapes, calls, and every error code."""

import base64
import json
import uuid

from twisted.internet import defer, reactor
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

from mesos_py.common.http_client import BytesProducer, subscribe
from tests.unit.test_agent_harness import AgentHarness, b64, wait_for

IDS = {"framework_id": {"value": "F1"}, "executor_id": {"value": "E1"}}


def status(**overrides):
    body = {
        "task_id": {"value": "c1"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
    }
    body.update(overrides)
    return body


class ExecutorAPITest(unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        self.h = AgentHarness(self, "--executor_shutdown_grace_period", "300ms")
        self.h.master.auto_ack = True
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.http = Agent(reactor, pool=self.pool)
        self.addCleanup(self.pool.closeCachedConnections)
        yield self.h.registered()
        # An executor process that never subscribes: the test speaks for it.
        task = self.h.executor_task("c1", "ignored")
        task["executor"]["command"] = {"value": "sleep 30"}
        self.h.run_task(task)
        yield wait_for(lambda: self.h.agent.frameworks, what="executor")
        self.events = []
        self.subscription = None

    @defer.inlineCallbacks
    def post(self, body, content_type=b"application/json", method=b"POST", accept=None):
        headers = Headers()
        if content_type is not None:
            headers.addRawHeader(b"content-type", content_type)
        if accept is not None:
            headers.addRawHeader(b"accept", accept)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = yield self.http.request(
            method, f"{self.h.url}/api/v1/executor".encode(), headers, BytesProducer(data)
        )
        text = yield readBody(response)
        return response.code, text.decode(), response.headers

    @defer.inlineCallbacks
    def subscribe(self):
        result = yield subscribe(
            self.http,
            f"{self.h.url}/api/v1/executor",
            dict({"type": "SUBSCRIBE", "subscribe": {"unacknowledged_tasks": []}}, **IDS),
            self.events.append,
        )
        self.subscription = result
        self.addCleanup(result.close)
        yield wait_for(lambda: len(self.events) >= 2, what="SUBSCRIBED and LAUNCH")
        return result

    @defer.inlineCallbacks
    def test_subscribe_stream_and_events(self):
        subscription = yield self.subscribe()
        self.assertIsNone(subscription.stream_id)  # no Mesos-Stream-Id for executors
        subscribed, launch = self.events[:2]
        self.assertEqual(subscribed["type"], "SUBSCRIBED")
        body = subscribed["subscribed"]
        self.assertEqual(body["executor_info"]["executor_id"], {"value": "E1"})
        self.assertEqual(body["framework_info"]["id"], {"value": "F1"})
        self.assertEqual(body["agent_info"]["id"], {"value": "M-S0"})
        self.assertEqual(body["agent_info"]["port"], self.h.service.port)
        self.assertEqual(set(body["container_id"]), {"value"})
        self.assertEqual(launch["type"], "LAUNCH")
        self.assertEqual(launch["launch"]["task"]["task_id"], {"value": "c1"})
        self.assertEqual(self.h.agent.metrics()["slave/executors_running"], 1)

    @defer.inlineCallbacks
    def test_update_fills_agent_and_executor_ids_and_timestamp(self):
        yield self.subscribe()
        code, text, _ = yield self.post(
            dict({"type": "UPDATE", "update": {"status": status()}}, **IDS)
        )
        self.assertEqual((code, text), (202, ""))
        yield self.h.wait_states("c1", "TASK_RUNNING")
        sent = self.h.master.updates()[0]
        self.assertEqual(sent["agent_id"], {"value": "M-S0"})
        self.assertEqual(sent["executor_id"], {"value": "E1"})
        self.assertIsInstance(sent["timestamp"], float)
        # the master's relayed ack reaches the executor
        yield wait_for(lambda: any(e["type"] == "ACKNOWLEDGED" for e in self.events))
        acked = next(e for e in self.events if e["type"] == "ACKNOWLEDGED")
        self.assertEqual(acked["acknowledged"]["uuid"], sent["uuid"])

    @defer.inlineCallbacks
    def test_duplicate_and_unknown_task_updates_are_accepted_but_dropped(self):
        yield self.subscribe()
        first = status()
        for body in (first, dict(first), status(task_id={"value": "nope"})):
            code, _, _ = yield self.post(
                dict({"type": "UPDATE", "update": {"status": body}}, **IDS)
            )
            self.assertEqual(code, 202)
        yield self.h.wait_states("c1", "TASK_RUNNING")
        metrics = self.h.agent.metrics()
        self.assertEqual(metrics["slave/valid_status_updates"], 1)
        self.assertEqual(metrics["slave/invalid_status_updates"], 2)

    @defer.inlineCallbacks
    def test_message_and_heartbeat(self):
        yield self.subscribe()
        code, _, _ = yield self.post(
            dict({"type": "MESSAGE", "message": {"data": b64("hi")}}, **IDS)
        )
        self.assertEqual(code, 202)
        code, _, _ = yield self.post(dict({"type": "HEARTBEAT"}, **IDS))
        self.assertEqual(code, 202)
        (message,) = yield wait_for(lambda: self.h.master.of_type("MESSAGE"))
        self.assertEqual(message["message"]["data"], b64("hi"))

    @defer.inlineCallbacks
    def test_calls_before_subscribe_are_forbidden(self):
        for call in (
            {"type": "UPDATE", "update": {"status": status()}},
            {"type": "MESSAGE", "message": {"data": b64("x")}},
            {"type": "HEARTBEAT"},
        ):
            code, text, _ = yield self.post(dict(call, **IDS))
            self.assertEqual((code, text), (403, "Executor is not subscribed"))

    @defer.inlineCallbacks
    def test_kill_and_shutdown_reach_the_executor(self):
        yield self.subscribe()
        self.h.master.send(
            "KILL_TASK",
            {
                "framework_id": {"value": "F1"},
                "task_id": {"value": "c1"},
                "kill_policy": {"grace_period": {"nanoseconds": 1}},
            },
        )
        yield wait_for(lambda: any(e["type"] == "KILL" for e in self.events), what="KILL")
        kill = next(e for e in self.events if e["type"] == "KILL")["kill"]
        self.assertEqual(kill["task_id"], {"value": "c1"})
        self.assertEqual(kill["kill_policy"], {"grace_period": {"nanoseconds": 1}})
        self.h.master.send("SHUTDOWN_EXECUTOR", IDS)
        yield wait_for(lambda: {"type": "SHUTDOWN"} in self.events, what="SHUTDOWN")
        # the process ignores SHUTDOWN: it is killed after the grace period
        yield wait_for(lambda: self.h.master.of_type("EXECUTOR_EXITED"), timeout=10)

    @defer.inlineCallbacks
    def test_resubscribe_replaces_the_old_stream(self):
        old = yield self.subscribe()
        self.events.clear()
        result = yield subscribe(
            self.http,
            f"{self.h.url}/api/v1/executor",
            dict({"type": "SUBSCRIBE", "subscribe": {}}, **IDS),
            self.events.append,
        )
        self.addCleanup(result.close)
        yield old.done
        yield wait_for(lambda: self.events, what="SUBSCRIBED")
        self.assertEqual([e["type"] for e in self.events], ["SUBSCRIBED"])  # no LAUNCH again

    @defer.inlineCallbacks
    def test_errors(self):
        subscribe_call = dict({"type": "SUBSCRIBE", "subscribe": {}}, **IDS)
        bad_update = dict({"type": "UPDATE"}, **IDS)
        cases = [
            # (body, content type, method, accept) -> code, text fragment
            ((subscribe_call, b"application/json", b"GET", None), 405, "Expecting 'POST'"),
            ((subscribe_call, None, b"POST", None), 400, "Content-Type"),
            ((subscribe_call, b"text/plain", b"POST", None), 415, "application/json"),
            ((subscribe_call, b"application/json", b"POST", b"text/html"), 406, "Accept"),
            ((b"{not json", b"application/json", b"POST", None), 400, "parse"),
            ((b"[1, 2]", b"application/json", b"POST", None), 400, "not an object"),
            (({"type": "SUBSCRIBE"}, b"application/json", b"POST", None), 400, "framework_id"),
            (({"type": "NOPE", **IDS}, b"application/json", b"POST", None), 400, "NOPE"),
            (({"type": 7, **IDS}, b"application/json", b"POST", None), 400, "type"),
            (
                (
                    {"type": "HEARTBEAT", "framework_id": {"value": "F1"}},
                    b"application/json",
                    b"POST",
                    None,
                ),
                400,
                "executor_id",
            ),
            (({"type": "SUBSCRIBE", **IDS}, b"application/json", b"POST", None), 400, "subscribe"),
            (
                (
                    {
                        "type": "HEARTBEAT",
                        "framework_id": {"value": "X"},
                        "executor_id": {"value": "E1"},
                    },
                    b"application/json",
                    b"POST",
                    None,
                ),
                400,
                "Framework cannot be found",
            ),
            (
                (
                    {
                        "type": "HEARTBEAT",
                        "framework_id": {"value": "F1"},
                        "executor_id": {"value": "X"},
                    },
                    b"application/json",
                    b"POST",
                    None,
                ),
                400,
                "Executor cannot be found",
            ),
            (
                (
                    {
                        "type": "HEARTBEAT",
                        "framework_id": {"value": "F1"},
                        "executor_id": {"value": "c1"},
                    },
                    b"application/json",
                    b"POST",
                    None,
                ),
                400,
                "Executor cannot be found",
            ),
            ((bad_update, b"application/json", b"POST", None), 400, "update"),
            (
                (dict(bad_update, update={"status": "x"}), b"application/json", b"POST", None),
                400,
                "status",
            ),
        ]
        for status_body, fragment in (
            (status(state="TASK_STAGING"), "TASK_STAGING"),
            (status(state="TASK_BOGUS"), "state"),
            (status(uuid="c2hvcnQ="), "16 bytes"),
            (status(uuid="%%%"), "base64"),
            (status(uuid=None), "uuid"),
            (status(source="SOURCE_AGENT"), "source"),
            (status(executor_id={"value": "other"}), "does not match"),
            (status(task_id=None), "task_id"),
            (status(timestamp="now"), "timestamp"),
            (status(healthy="yes"), "healthy"),
            (status(labels=[]), "labels"),
            (status(data="!!"), "base64"),
            (status(message=5), "message"),
        ):
            body = dict(bad_update, update={"status": status_body})
            cases.append(((body, b"application/json", b"POST", None), 400, fragment))
        cases.append(
            (
                (
                    dict({"type": "MESSAGE", "message": {"data": "@@"}}, **IDS),
                    b"application/json",
                    b"POST",
                    None,
                ),
                400,
                "base64",
            )
        )
        for (body, content_type, method, accept), code, fragment in cases:
            got, text, headers = yield self.post(body, content_type, method, accept)
            self.assertEqual(got, code, f"{body!r}: {text}")
            self.assertIn(fragment, text, f"{body!r}")
            if code == 405:
                self.assertEqual(headers.getRawHeaders(b"allow"), [b"POST"])
        self.assertTrue(self.h.agent.link.registered)

    @defer.inlineCallbacks
    def test_oversized_body_is_refused(self):
        code, _, _ = yield self.post(b"x" * (17 * 1024 * 1024))
        self.assertEqual(code, 413)
