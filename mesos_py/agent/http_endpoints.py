"""The agent's HTTP endpoints: state, flags, health, version, metrics and /files.

``/files/*`` serve sandboxes only: every path is resolved (symlinks and
``..`` included) and must end up below ``<work_dir>/slaves``; the file opened
is checked again through ``/proc/self/fd`` so a path swapped for a symlink
between the check and the open cannot lead outside either.
"""

from __future__ import annotations

import codecs
import contextlib
import grp
import os
import pwd
import stat
from collections.abc import Callable
from typing import Any

from twisted.web import http, resource, server, static

from mesos_py.agent import sandbox
from mesos_py.agent.agent import Agent
from mesos_py.agent.executor_api import ExecutorAPI
from mesos_py.agent.prometheus_metrics import agent_metrics
from mesos_py.common.attributes import attributes_flat
from mesos_py.common.http import (
    GetResource,
    HTTPError,
    PrometheusResource,
    write_error,
    write_json,
)
from mesos_py.common.identity import BUILD_INFO
from mesos_py.common.resources import Resources

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# Mesos reads at most 16 pages when no length is given.
DEFAULT_READ_LENGTH = 16 * PAGE_SIZE
MAX_READ_LENGTH = 8 * 1024 * 1024


def state(agent: Agent) -> dict[str, Any]:
    """``/state`` in Mesos' shape."""
    agent_id = agent.agent_id or ""
    total: Resources = agent.config.resources
    used = agent.used_resources()
    reserved = total.reserved_by_role()
    body = dict(BUILD_INFO)
    body.update(
        {
            "start_time": agent.start_time,
            "id": agent_id,
            "pid": agent.pid,
            "hostname": agent.config.hostname,
            "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE"],
            "resources": total.to_flat(),
            "reserved_resources": {role: r.to_flat() for role, r in reserved.items()},
            "unreserved_resources": total.unreserved().to_flat(),
            "reserved_resources_full": {role: r.to_json() for role, r in reserved.items()},
            "unreserved_resources_full": total.unreserved().to_json(),
            "reserved_resources_allocated": {},
            "unreserved_resources_allocated": used.to_flat(),
            "resource_providers": [],
            "attributes": attributes_flat(agent.config.attributes),
            "master_hostname": (agent.link.master or "").rsplit(":", 1)[0],
            "flags": agent.config.flags,
            "frameworks": [f.state_json(agent_id) for f in agent.frameworks.values()],
            "completed_frameworks": [f.state_json(agent_id) for f in agent.completed_frameworks],
        }
    )
    return body


# ------------------------------------------------------------------ /files


def _query(request: server.Request, name: str) -> str | None:
    values = request.args.get(name.encode())
    return values[0].decode(errors="replace") if values else None


def _int_query(request: server.Request, name: str) -> int | None:
    text = _query(request, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise HTTPError(http.BAD_REQUEST, f"Failed to parse '{name}': {text!r}") from None
    if value < -1:
        raise HTTPError(http.BAD_REQUEST, f"Negative {name} provided: {value}")
    return value


def _not_found(path: str) -> HTTPError:
    return HTTPError(http.NOT_FOUND, f"No such file or directory in the sandboxes: '{path}'")


class Sandboxes:
    """Maps the paths /files is asked for to files inside the sandboxes, safely."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    @property
    def root(self) -> str:
        return os.path.realpath(sandbox.sandboxes_root(self.agent.config.work_dir))

    def _inside(self, real: str) -> bool:
        root = self.root
        return real == root or real.startswith(root + os.sep)

    def open(self, path: str | None, flags: int = os.O_RDONLY) -> int:
        """An fd of ``path`` (HTTPError 400/404 unless it is inside a sandbox)."""
        if not path:
            raise HTTPError(http.BAD_REQUEST, "Expecting 'path' query parameter")
        local = path
        if path.startswith("/frameworks/") and self.agent.agent_id:
            # Mesos' virtual path /frameworks/<f>/executors/<e>/runs/latest and below.
            local = os.path.join(
                sandbox.agent_dir(self.agent.config.work_dir, self.agent.agent_id), path[1:]
            )
        if "\0" in local or not os.path.isabs(local) or not self._inside(os.path.realpath(local)):
            raise _not_found(path)
        try:
            fd = os.open(local, flags | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            raise _not_found(path) from None
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            real = ""
        if not self._inside(real):
            os.close(fd)
            raise _not_found(path)
        return fd


def _entry(path: str, st: os.stat_result) -> dict[str, Any]:
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return {
        "path": path,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": int(st.st_mtime),
        "mode": stat.filemode(st.st_mode),
        "uid": user,
        "gid": group,
    }


class _FilesEndpoint(resource.Resource):
    isLeaf = True

    def __init__(self, sandboxes: Sandboxes) -> None:
        super().__init__()
        self.sandboxes = sandboxes

    def render_GET(self, request: server.Request) -> bytes | int:
        try:
            return self.serve(request)
        except HTTPError as error:
            return write_error(request, error)

    def serve(self, request: server.Request) -> bytes | int:
        raise NotImplementedError


class Browse(_FilesEndpoint):
    """``/files/browse?path=``: the entries of a directory (or the file itself)."""

    def serve(self, request: server.Request) -> bytes:
        path = _query(request, "path")
        fd = self.sandboxes.open(path)
        try:
            st = os.fstat(fd)
            if not stat.S_ISDIR(st.st_mode):
                return write_json(request, [_entry(path, st)])
            base = path.rstrip("/") or "/"
            entries = []
            for name in sorted(os.listdir(fd)):
                with contextlib.suppress(OSError):
                    child = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    entries.append(_entry(os.path.join(base, name), child))
            return write_json(request, entries)
        finally:
            os.close(fd)


def _byte_as_question_mark(error: UnicodeDecodeError) -> tuple[str, int]:
    return "?", error.start + 1


codecs.register_error("mesos_py.byte_as_question_mark", _byte_as_question_mark)


def text_of_chunk(data: bytes, requested: int) -> str:
    """A chunk of a file as text whose UTF-8 form is exactly as long as the bytes it shows.

    Readers that follow a file (the UI's tail, ``mesos-py logs``) add the UTF-8
    length of ``data`` to their offset.  A byte that is not UTF-8 therefore
    becomes one ``?`` (U+FFFD would take three), and a character cut at the end
    of the chunk is left out: the next read, at the offset after what was
    shown, starts with it whole.  Only a read of ``requested`` bytes too short
    for the one character it starts shows that beginning as ``?``, so that a
    reader always moves on.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("mesos_py.byte_as_question_mark")
    text = decoder.decode(data, final=False)
    if not text and data and len(data) >= requested:
        text = decoder.decode(b"", final=True)
    return text


class Read(_FilesEndpoint):
    """``/files/read?path=&offset=&length=``: ``{"data", "offset"}``."""

    def serve(self, request: server.Request) -> bytes:
        path = _query(request, "path")
        offset = _int_query(request, "offset")
        length = _int_query(request, "length")
        fd = self.sandboxes.open(path)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise HTTPError(http.BAD_REQUEST, "Cannot read a directory or special file")
            if offset is None or offset == -1:
                return write_json(request, {"data": "", "offset": st.st_size})
            if length is None or length == -1:
                length = DEFAULT_READ_LENGTH
            length = min(length, MAX_READ_LENGTH)
            data = os.pread(fd, length, offset) if length else b""
            return write_json(request, {"data": text_of_chunk(data, length), "offset": offset})
        finally:
            os.close(fd)


class Download(_FilesEndpoint):
    """``/files/download?path=``: the raw file."""

    def serve(self, request: server.Request) -> int:
        path = _query(request, "path")
        fd = self.sandboxes.open(path)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise HTTPError(http.BAD_REQUEST, "Cannot download a directory or special file")
        name = os.path.basename(path.rstrip("/")).replace('"', "")
        request.setHeader(b"content-type", b"application/octet-stream")
        request.setHeader(b"content-disposition", f'attachment; filename="{name}"'.encode())
        request.setHeader(b"content-length", str(st.st_size).encode())
        file = os.fdopen(fd, "rb")
        static.NoRangeStaticProducer(request, file).start()
        return server.NOT_DONE_YET


# ------------------------------------------------------------------- tree


class _Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        return b""


def build_resource_tree(
    agent: Agent, zk_state: Callable[[], str | None] = lambda: None
) -> resource.Resource:
    """Every agent endpoint, at ``/<name>`` and at ``/slave(1)/<name>``.

    ``zk_state()`` gives the ZooKeeper session's state for ``/metrics`` (None: no ZooKeeper).
    """
    sandboxes = Sandboxes(agent)
    files = resource.Resource()
    for name, endpoint in (("browse", Browse), ("read", Read), ("download", Download)):
        files.putChild(name.encode(), endpoint(sandboxes))
        files.putChild(f"{name}.json".encode(), endpoint(sandboxes))

    api = resource.Resource()
    v1 = resource.Resource()
    api.putChild(b"v1", v1)
    v1.putChild(b"executor", ExecutorAPI(agent))

    metrics = PrometheusResource(lambda: agent_metrics(agent, zk_state))
    metrics.putChild(b"snapshot", GetResource(lambda r: agent.metrics()))
    monitor = resource.Resource()
    statistics = GetResource(lambda r: agent.statistics())
    monitor.putChild(b"statistics", statistics)
    monitor.putChild(b"statistics.json", statistics)

    state_resource = GetResource(lambda r: state(agent))
    children = {
        b"state": state_resource,
        b"state.json": state_resource,
        b"flags": GetResource(lambda r: {"flags": agent.config.flags}),
        b"health": _Health(),
        b"version": GetResource(lambda r: dict(BUILD_INFO)),
        b"api": api,
        b"metrics": metrics,
        b"monitor": monitor,
        b"files": files,
    }
    root = resource.Resource()
    slave = resource.Resource()
    for name, child in children.items():
        root.putChild(name, child)
        slave.putChild(name, child)
    root.putChild(b"slave(1)", slave)
    return root
