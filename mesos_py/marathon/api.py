"""Marathon's v2 REST API on twisted.web, in Marathon 1.4 JSON shapes.

Paths are matched after collapsing repeated slashes (the marathon client
sends ``/v2/apps//x``); app ids are greedy, so suffixes such as ``/tasks``
or ``/restart`` are matched first.  A non-leader answers ``/ping``,
``/v2/info``, ``/v2/leader``, ``/metrics`` and ``/metrics/prometheus`` (its
own view, from ``prometheus``) itself and redirects every
other request to the leader (307 keeps the method and body), or answers 503
when no leader is known.  ``/`` and ``/ui/...`` are the HTML status pages
(``pages`` and ``webui.framework_site``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server

from mesos_py import __version__
from mesos_py.common import prometheus
from mesos_py.common.prometheus import Metric
from mesos_py.framework.store import FencedOut
from mesos_py.marathon import appdef, pages
from mesos_py.marathon.appdef import AppError, InvalidJSON, canonical_path, parse_bool
from mesos_py.marathon.events import EventStream
from mesos_py.marathon.scheduler import Conflict, Deployment, Marathon, NotFound
from mesos_py.webui.framework_site import FrameworkPages, is_page_path

log = Logger()

LOCAL_PATHS = ("/ping", "/v2/info", "/v2/leader", "/metrics", "/metrics/prometheus")
APP_SUFFIX = re.compile(
    r"^(?P<id>.+?)(?P<suffix>/tasks(?:/(?P<task>[^/]+))?|/restart|/versions(?:/(?P<version>[^/]+))?)?$"
)


class Reply(Exception):
    """Answer ``status`` with a JSON ``body`` (raised anywhere in a handler)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _message(status: int, message: str) -> Reply:
    return Reply(status, {"message": message})


def deployment_result(dep: Deployment) -> dict:
    return {"deploymentId": dep.deployment_id, "version": dep.version}


class MarathonAPI(resource.Resource):
    """The whole REST surface as one leaf; ``leadership`` says who leads and where."""

    isLeaf = True

    def __init__(
        self,
        marathon: Marathon,
        leadership: Any,
        info: dict,
        prometheus_families: Callable[[], list[Metric]] | None = None,
    ) -> None:
        super().__init__()
        self.marathon = marathon
        self.leadership = leadership
        self.info = info  # static /v2/info parts: marathon_config, zookeeper_config...
        self.prometheus_families = prometheus_families
        self.requests = 0
        self.pages = FrameworkPages(
            "Marathon",
            lambda: self.leadership.elected,
            lambda: self.leadership.leader_address(),
            lambda segments, args: pages.route(
                self.marathon, self.leadership.leader_address(), segments, args
            ),
        )

    # -- plumbing -------------------------------------------------------------------

    def render(self, request: server.Request) -> bytes | int:
        self.requests += 1
        if request.method in (b"GET", b"HEAD") and is_page_path(request.path):
            return self.pages.render(request)
        path = re.sub(r"/+", "/", request.path.decode(errors="replace"))
        if len(path) > 1:
            path = path.rstrip("/")
        method = request.method.decode()
        try:
            if not self.leadership.elected and path not in LOCAL_PATHS:
                return self._to_leader(request)
            result = self._route(request, method, path)
        except Exception as exc:  # answered below, never raised to twisted.web
            return self._write_error(request, exc)
        if result is server.NOT_DONE_YET:
            return result
        if isinstance(result, defer.Deferred):
            result.addCallbacks(
                lambda reply: self._finish(request, reply),
                lambda failure: self._finish(request, failure.value, error=True),
            )
            return server.NOT_DONE_YET
        return self._encode(request, result)

    def _finish(self, request: server.Request, reply: Any, error: bool = False) -> None:
        if request._disconnected:
            return
        body = self._write_error(request, reply) if error else self._encode(request, reply)
        request.write(body)
        request.finish()

    def _encode(self, request: server.Request, reply: Any) -> bytes:
        if not isinstance(reply, Reply):
            reply = Reply(200, reply)
        request.setResponseCode(reply.status)
        for name, value in reply.headers.items():
            request.setHeader(name, value)
        if isinstance(reply.body, bytes):
            return reply.body
        if reply.body is None:
            return b""
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return json.dumps(reply.body, separators=(",", ":")).encode()

    def _write_error(self, request: server.Request, exc: BaseException) -> bytes:
        if isinstance(exc, Reply):
            return self._encode(request, exc)
        if isinstance(exc, NotFound):
            return self._encode(request, _message(404, f"'{exc}' does not exist"))
        if isinstance(exc, AppError):
            return self._encode(request, Reply(exc.status, exc.body))
        if isinstance(exc, FencedOut):  # deposed meanwhile: the instance is stepping down
            return self._encode(request, _message(503, f"Not the leader any more: {exc}"))
        if isinstance(exc, Conflict):
            ids = exc.deployment_ids
            message = (
                "App is locked by one or more deployments. Override with the option "
                f"'?force=true'. View details at '/v2/deployments/{ids[0]}'."
            )
            return self._encode(
                request, Reply(409, {"message": message, "deployments": [{"id": i} for i in ids]})
            )
        log.error("{method} {uri} failed: {exc!r}", method=request.method, uri=request.uri, exc=exc)
        return self._encode(request, _message(500, f"internal error: {exc}"))

    def _to_leader(self, request: server.Request) -> bytes:
        leader = self.leadership.leader_address()
        if not leader:
            raise _message(503, "Could not determine the current leader")
        request.setResponseCode(307)
        request.setHeader(b"location", f"http://{leader}".encode() + request.uri)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"message": f"the leader is {leader}"}).encode()

    @staticmethod
    def _body(request: server.Request) -> Any:
        raw = request.content.read() if request.content is not None else b""
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJSON([{"path": "/", "errors": [f"Invalid JSON: {exc}"]}]) from None

    @staticmethod
    def _arg(request: server.Request, name: str) -> str | None:
        values = request.args.get(name.encode())
        return values[0].decode(errors="replace") if values else None

    def _flag(self, request: server.Request, name: str) -> bool:
        return parse_bool(self._arg(request, name))

    # -- routing ----------------------------------------------------------------------

    def _route(self, request: server.Request, method: str, path: str) -> Any:
        if path == "/ping":
            request.setHeader(b"content-type", b"text/plain")
            return Reply(200, b"pong")
        if path == "/metrics":
            return self._metrics()
        if path == "/metrics/prometheus" and self.prometheus_families is not None:
            body = prometheus.encode(self.prometheus_families())
            return Reply(200, body, {"content-type": prometheus.CONTENT_TYPE})
        if path == "/v2/info":
            return self._info()
        if path == "/v2/leader":
            return self._leader(method)
        if path == "/v2/apps":
            return {"GET": self._list_apps, "POST": self._create_app, "PUT": self._put_apps}[
                self._allow(method, "GET", "POST", "PUT")
            ](request)
        if path.startswith("/v2/apps/"):
            return self._app_route(request, method, path[len("/v2/apps") :])
        if path == "/v2/tasks":
            self._allow(method, "GET")
            return self._list_tasks(request)
        if path == "/v2/tasks/delete":
            self._allow(method, "POST")
            return self._delete_tasks(request)
        if path == "/v2/deployments":
            self._allow(method, "GET")
            return [d.api_json() for d in self.marathon.deployments.values()]
        if path.startswith("/v2/deployments/"):
            self._allow(method, "DELETE")
            return self._cancel_deployment(request, path[len("/v2/deployments/") :])
        if path == "/v2/groups" or path.startswith("/v2/groups/"):
            return self._group_route(request, method, path[len("/v2/groups") :] or "/")
        if path == "/v2/queue":
            self._allow(method, "GET")
            return {"queue": self.marathon.queue()}
        if path.startswith("/v2/queue/") and path.endswith("/delay"):
            self._allow(method, "DELETE")
            app_id = canonical_path(path[len("/v2/queue") : -len("/delay")])
            if not any(item["app"]["id"] == app_id for item in self.marathon.queue()):
                raise _message(404, f"Application {app_id} not found in tasks queue.")
            self.marathon.reset_delay(app_id)
            return Reply(204, None)
        if path == "/v2/events":
            self._allow(method, "GET")
            types = {v.decode() for v in request.args.get(b"event_type", [])}
            remote = request.getClientAddress()
            EventStream(request, self.marathon.events, types, getattr(remote, "host", ""))
            return server.NOT_DONE_YET
        if path == "/v2/eventSubscriptions":
            self._allow(method, "GET")
            return {"callbackUrls": []}
        raise _message(404, f"Unknown path {path}")

    @staticmethod
    def _allow(method: str, *allowed: str) -> str:
        if method not in allowed:
            raise Reply(
                405, {"message": f"Method {method} not allowed"}, {"allow": ", ".join(allowed)}
            )
        return method

    # -- apps -------------------------------------------------------------------------

    def _app(self, app_id: str) -> Any:
        app = self.marathon.apps.get(app_id)
        if app is None:
            raise _message(404, f"App '{app_id}' does not exist")
        return app

    def app_json(self, app_id: str, embed: set[str]) -> dict:
        marathon = self.marathon
        app = marathon.apps[app_id]
        body = dict(app.definition)
        if body["versionInfo"]["lastConfigChangeAt"] == body["version"] and (
            body["versionInfo"]["lastScalingAt"] == body["version"]
        ):
            body.pop("versionInfo")
        body.update(marathon.counts(app_id))
        body["deployments"] = [{"id": i} for i in marathon.locks(app_id)]
        if "tasks" in embed:
            body["tasks"] = [marathon.task_json(t) for t in marathon.app_tasks(app_id)]
        if "lastTaskFailure" in embed and app.last_failure:
            body["lastTaskFailure"] = app.last_failure
        if "readiness" in embed:
            body["readinessCheckResults"] = []
        return body

    def _embeds(self, request: server.Request) -> set[str]:
        embeds = set()
        for raw in request.args.get(b"embed", []):
            name = raw.decode(errors="replace")
            for prefix in ("group.apps.", "apps.", "app."):
                name = name.removeprefix(prefix)
            embeds.add(name)
        return embeds

    def _list_apps(self, request: server.Request) -> dict:
        cmd = (self._arg(request, "cmd") or "").lower()
        ident = (self._arg(request, "id") or "").lower()
        selector = self._arg(request, "label")
        embed = self._embeds(request)
        apps = []
        for app_id, app in sorted(self.marathon.apps.items()):
            definition = app.definition
            if cmd and cmd not in (definition.get("cmd") or "").lower():
                continue
            if ident and ident not in app_id.lower():
                continue
            if selector and not label_matches(selector, definition.get("labels", {})):
                continue
            apps.append(self.app_json(app_id, embed))
        return {"apps": apps}

    @defer.inlineCallbacks
    def _create_app(self, request: server.Request):
        definition = appdef.parse_app(self._body(request))
        if definition["id"] in self.marathon.apps:
            raise _message(409, f"An app with id [{definition['id']}] already exists.")
        dep = yield self.marathon.put_app(definition, force=self._flag(request, "force"))
        body = self.app_json(definition["id"], set())
        body["deployments"] = [{"id": dep.deployment_id}]
        return Reply(
            201,
            body,
            {
                "location": f"/v2/apps{definition['id']}",
                "marathon-deployment-id": dep.deployment_id,
            },
        )

    @defer.inlineCallbacks
    def _put_apps(self, request: server.Request):
        bodies = self._body(request)
        if not isinstance(bodies, list):
            raise InvalidJSON([{"path": "/", "errors": ["error.expected.jsarray"]}])
        definitions = []
        for body in bodies:
            if not isinstance(body, dict) or not isinstance(body.get("id"), str):
                raise InvalidJSON([{"path": "/id", "errors": ["error.path.missing"]}])
            app_id = canonical_path(body["id"])
            old = self.marathon.apps.get(app_id)
            definitions.append(appdef.parse_app(body, body["id"], old.definition if old else None))
        dep = None
        for definition in definitions:
            dep = yield self.marathon.put_app(definition, force=self._flag(request, "force"))
        return deployment_result(dep) if dep else {}

    def _app_route(self, request: server.Request, method: str, rest: str) -> Any:
        match = APP_SUFFIX.match(rest)
        app_id = canonical_path(match["id"])
        suffix = match["suffix"] or ""
        if suffix.startswith("/tasks"):
            self._app(app_id)
            if method == "GET" and not match["task"]:
                tasks = self.marathon.app_tasks(app_id)
                return {"tasks": [self.marathon.task_json(t) for t in tasks]}
            self._allow(method, "DELETE")
            return self._kill_app_tasks(request, app_id, match["task"])
        if suffix == "/restart":
            self._allow(method, "POST")
            app = self._app(app_id)
            return self.marathon.put_app(
                app.definition, force=self._flag(request, "force"), restart=True
            ).addCallback(deployment_result)
        if suffix.startswith("/versions"):
            self._allow(method, "GET")
            self._app(app_id)
            versions = self.marathon.versions.get(app_id, {})
            if match["version"]:
                if match["version"] not in versions:
                    raise _message(
                        404, f"App '{app_id}' does not exist in version {match['version']}"
                    )
                return versions[match["version"]]
            return {"versions": sorted(versions, reverse=True)}
        method = self._allow(method, "GET", "PUT", "DELETE")
        if method == "GET":
            self._app(app_id)
            return {"app": self.app_json(app_id, {"tasks", "lastTaskFailure", "counts"})}
        if method == "DELETE":
            self._app(app_id)
            return self.marathon.remove_app(app_id, self._flag(request, "force")).addCallback(
                deployment_result
            )
        return self._update_app(request, app_id)

    @defer.inlineCallbacks
    def _update_app(self, request: server.Request, app_id: str):
        if appdef.path_errors(app_id):
            raise appdef.ObjectNotValid([{"path": "/id", "errors": appdef.path_errors(app_id)}])
        body = self._body(request)
        old = self.marathon.apps.get(app_id)
        if isinstance(body, dict) and isinstance(body.get("version"), str) and old is not None:
            stored = self.marathon.versions.get(app_id, {}).get(body["version"])
            if stored is None:
                raise _message(404, f"App '{app_id}' does not exist in version {body['version']}")
            body = stored
        definition = appdef.parse_app(body, app_id, old.definition if old else None)
        dep = yield self.marathon.put_app(definition, force=self._flag(request, "force"))
        return Reply(201 if old is None else 200, deployment_result(dep))

    # -- tasks ------------------------------------------------------------------------

    def _list_tasks(self, request: server.Request) -> dict:
        wanted = {s.lower() for v in request.args.get(b"status", []) for s in [v.decode()]}
        tasks = []
        for record in self.marathon.tasks.values():
            if wanted and record.state.removeprefix("TASK_").lower() not in wanted:
                continue
            tasks.append(self.marathon.task_json(record))
        return {"tasks": tasks}

    @defer.inlineCallbacks
    def _kill(self, request: server.Request, records: list, one: bool):
        scale, wipe = self._flag(request, "scale"), self._flag(request, "wipe")
        if scale and wipe:
            raise _message(400, "You cannot use scale and wipe at the same time.")
        bodies = [self.marathon.task_json(r) for r in records]
        deployments = yield self.marathon.kill_tasks(records, scale, self._flag(request, "force"))
        if scale:
            return deployment_result(deployments[-1]) if deployments else {}
        return {"task": bodies[0]} if one else {"tasks": bodies}

    def _kill_app_tasks(self, request: server.Request, app_id: str, task_id: str | None) -> Any:
        if task_id is not None:
            record = self.marathon.tasks.get(task_id)
            if record is None or record.app_id != app_id:
                raise _message(404, f"Task '{task_id}' does not exist")
            return self._kill(request, [record], one=True)
        host = self._arg(request, "host")
        records = [
            r for r in self.marathon.app_tasks(app_id) if host in (None, "*") or r.host == host
        ]
        return self._kill(request, records, one=False)

    def _delete_tasks(self, request: server.Request) -> Any:
        body = self._body(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidJSON([{"path": "/ids", "errors": ["error.expected.jsarray"]}])
        for task_id in ids:
            if appdef.app_id_of_task(task_id) is None:
                raise _message(400, f"Invalid task id '{task_id}'")
        records = [self.marathon.tasks[i] for i in ids if i in self.marathon.tasks]
        return self._kill(request, records, one=False)

    # -- deployments, groups, info ------------------------------------------------------

    def _cancel_deployment(self, request: server.Request, deployment_id: str) -> Any:
        if deployment_id not in self.marathon.deployments:
            raise _message(404, f"DeploymentPlan {deployment_id} does not exist")
        force = self._flag(request, "force")
        result = self.marathon.cancel_deployment(deployment_id, force)
        if force:
            return result.addCallback(lambda _: Reply(202, None))
        return result.addCallback(deployment_result)

    def group_json(self, group_id: str) -> dict:
        prefix = group_id.rstrip("/") + "/"
        apps = [a for a in sorted(self.marathon.apps) if a.startswith(prefix)]
        direct = [a for a in apps if "/" not in a[len(prefix) :]]
        children = sorted({prefix + a[len(prefix) :].split("/")[0] for a in apps} - set(direct))
        versions = [self.marathon.apps[a].definition["version"] for a in apps]
        return {
            "id": group_id,
            "apps": [self.app_json(a, set()) for a in direct],
            "groups": [self.group_json(child) for child in children],
            "dependencies": [],
            "version": max(versions) if versions else appdef.format_timestamp(0),
        }

    def _group_route(self, request: server.Request, method: str, rest: str) -> Any:
        group_id = canonical_path(rest)
        method = self._allow(method, "GET", "POST", "PUT", "DELETE")
        prefix = group_id.rstrip("/") + "/"
        members = [a for a in self.marathon.apps if a.startswith(prefix)]
        if method == "GET":
            if group_id != "/" and not members:
                raise _message(404, f"Group '{group_id}' does not exist")
            return self.group_json(group_id)
        if method == "DELETE":
            if not members:
                raise _message(404, f"Group '{group_id}' does not exist")
            return self._each(
                [
                    lambda a=a: self.marathon.remove_app(a, self._flag(request, "force"))
                    for a in members
                ]
            )
        body = self._body(request)
        if not isinstance(body, dict):
            raise InvalidJSON([{"path": "/", "errors": ["error.expected.jsobject"]}])
        if method == "POST":
            group_id = canonical_path(body.get("id", rest), "/")
            if any(a.startswith(group_id.rstrip("/") + "/") for a in self.marathon.apps):
                raise _message(
                    409, f"Group {group_id} is already created. Use PUT to change this group."
                )
        force = self._flag(request, "force")
        if "scaleBy" in body:
            factor = body["scaleBy"]
            if not isinstance(factor, (int, float)) or factor < 0:
                raise InvalidJSON([{"path": "/scaleBy", "errors": ["error.expected.jsnumber"]}])
            changes = []
            for app_id in members:
                definition = self.marathon.apps[app_id].definition
                target = {**definition, "instances": round(definition["instances"] * factor)}
                changes.append(lambda t=target: self.marathon.put_app(t, force=force))
            return self._each(changes)
        definitions = []
        for raw in body.get("apps") or []:
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                raise InvalidJSON([{"path": "/apps", "errors": ["error.path.missing"]}])
            app_id = canonical_path(raw["id"], group_id)
            old = self.marathon.apps.get(app_id)
            definitions.append(appdef.parse_app(raw, app_id, old.definition if old else None))
        changes = [lambda d=d: self.marathon.put_app(d, force=force) for d in definitions]
        return self._each(changes, created=method == "POST")

    @defer.inlineCallbacks
    def _each(self, changes: list, created: bool = False):
        last = None
        for change in changes:
            last = yield change()
        if last is None:
            return Reply(200, {"version": appdef.format_timestamp(0), "deploymentId": None})
        return Reply(201 if created else 200, deployment_result(last))

    def _leader(self, method: str) -> Any:
        method = self._allow(method, "GET", "DELETE")
        leader = self.leadership.leader_address()
        if method == "GET":
            if not leader:
                raise _message(404, "There is no leader")
            return {"leader": leader}
        if not self.leadership.elected:
            raise _message(404, "There is no leader")
        self.leadership.abdicate()
        return {"message": "Leadership abdicated"}

    def _info(self) -> dict:
        return {
            "name": "marathon",
            "version": "1.4.13",
            "buildref": f"mesos-py-{__version__}",
            "elected": bool(self.leadership.elected),
            "leader": self.leadership.leader_address(),
            "frameworkId": self.marathon.framework_id,
            **self.info,
            "event_subscriber": None,
        }

    def _metrics(self) -> dict:
        marathon = self.marathon
        gauges = {
            "service.mesosphere.marathon.app.count": len(marathon.apps),
            "service.mesosphere.marathon.task.running.count": sum(
                1 for t in marathon.tasks.values() if t.state == "TASK_RUNNING"
            ),
            "service.mesosphere.marathon.task.staged.count": sum(
                1 for t in marathon.tasks.values() if t.state == "TASK_STAGING"
            ),
            "service.mesosphere.marathon.deployments.active": len(marathon.deployments),
            "service.mesosphere.marathon.leadership": int(bool(self.leadership.elected)),
        }
        counters = {
            "service.mesosphere.marathon.tasks.launched": marathon.launched_total,
            "service.mesosphere.marathon.api.requests": self.requests,
            "service.mesosphere.marathon.events.subscribers": marathon.events.subscribers,
        }
        return {
            "version": "3.0.0",
            "gauges": {k: {"value": v} for k, v in gauges.items()},
            "counters": {k: {"count": v} for k, v in counters.items()},
            "histograms": {},
            "meters": {},
            "timers": {},
        }


_SELECTOR = re.compile(
    r"^\s*(?P<key>[^!=\s]+)\s*(?:(?P<op>==|!=)\s*(?P<value>.*?)"
    r"|\s(?P<set_op>in|notin)\s*\((?P<choices>.*)\))?\s*$"
)


def label_matches(selector: str, labels: dict[str, str]) -> bool:
    """Marathon's label selector: ``k``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``."""
    for term in re.split(r",(?![^()]*\))", selector):
        match = _SELECTOR.match(term)
        if not match:
            return False
        key = match["key"]
        if match["op"] == "==":
            ok = labels.get(key) == match["value"]
        elif match["op"] == "!=":
            ok = labels.get(key) != match["value"]
        elif match["set_op"]:
            choices = {v.strip() for v in match["choices"].split(",")}
            ok = (labels.get(key) in choices) == (match["set_op"] == "in")
        else:
            ok = key in labels
        if not ok:
            return False
    return True
