"""twisted.web plumbing of common/http.py: form parsing only for form bodies, body cap.

``BoundedRequest`` skips twisted.web's Content-Type parse (``email`` package)
for JSON calls through a private attribute of Twisted's ``Request``; these
tests fail if a Twisted release renames it, instead of the daemons silently
getting slower.
"""

from __future__ import annotations

import pytest
from twisted.internet.testing import StringTransport
from twisted.web import http, resource

from mesos_py.common.http import make_site


class Echo(resource.Resource):
    """Answers with the form arguments twisted.web found and the raw body's size."""

    isLeaf = True

    def render_POST(self, request):
        fields = b",".join(sorted(request.args))
        return b"args=%s body=%d" % (fields, len(request.content.read()))


def post(body: bytes, content_type: bytes, max_body_bytes: int = 1024) -> bytes:
    channel = make_site(Echo(), max_body_bytes).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(
        b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (content_type, len(body), body)
    )
    return transport.value()


@pytest.fixture
def parsed(monkeypatch):
    """The Content-Type lines twisted.web parses (with the ``email`` package)."""
    lines = []
    original = http._parseContentType
    monkeypatch.setattr(
        http, "_parseContentType", lambda line: lines.append(line) or original(line)
    )
    return lines


def test_json_bodies_skip_twisteds_content_type_parse(parsed):
    answer = post(b'{"a=1": 2}', b"application/json")
    assert b"args= body=10" in answer
    assert parsed == []


def test_form_bodies_are_still_parsed(parsed):
    answer = post(b"frameworkId=f1", b"application/x-www-form-urlencoded")
    assert b"args=frameworkId body=14" in answer
    assert parsed == [b"application/x-www-form-urlencoded"]


def test_a_body_over_the_cap_is_answered_413_and_not_handled():
    answer = post(b"x" * 2048, b"application/json", max_body_bytes=1024)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Request body exceeds 1024 bytes" in answer
    assert b"args=" not in answer
