"""The pipelined call connection: requests written in order, replies matched in order."""

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.error import ConnectionLost
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers

from mesos_py.common.http_client import _PipelinedConnection

REPLIES = (
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\nContent-Type: text/plain\r\n\r\noops!"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
)


def connection():
    protocol = _PipelinedConnection()
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def send_three(protocol):
    headers = Headers({b"content-type": [b"application/json"]})
    return [protocol.request(b"/api", b"h:1", b"{}", headers) for _ in range(3)]


def results(deferreds):
    out = []
    for d in deferreds:
        d.addBoth(out.append)
    return out


def test_requests_are_written_back_to_back_with_their_length():
    protocol, transport = connection()
    send_three(protocol)
    written = transport.value()
    assert written.count(b"POST /api HTTP/1.1\r\n") == 3
    assert b"Content-Length: 2\r\n" in written and written.endswith(b"\r\n\r\n{}")


@given(st.lists(st.integers(min_value=1, max_value=25), min_size=1, max_size=40))
def test_replies_split_anywhere_are_matched_in_order(cuts):
    protocol, _ = connection()
    out = results(send_three(protocol))
    position, index = 0, 0
    while position < len(REPLIES):
        size = cuts[index % len(cuts)]
        protocol.dataReceived(REPLIES[position : position + size])
        position += size
        index += 1
    assert [(r.code, r.body) for r in out] == [(202, b""), (400, b"oops!"), (200, b"abcde")]


def test_a_lost_connection_fails_the_calls_in_flight():
    protocol, _ = connection()
    out = results(send_three(protocol))
    protocol.dataReceived(REPLIES[:46])  # the first reply only
    protocol.connectionLost(Failure(ConnectionLost()))
    assert out[0].code == 202
    assert all(isinstance(r, Failure) and r.check(ConnectionLost) for r in out[1:])
    assert protocol.lost


def test_garbage_fails_the_calls_and_drops_the_connection():
    protocol, transport = connection()
    out = results(send_three(protocol))
    protocol.dataReceived(b"NONSENSE\r\n\r\n")
    assert all(isinstance(r, Failure) for r in out)
    assert transport.disconnecting
