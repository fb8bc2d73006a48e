"""RecordIO framing used by every Mesos v1 event stream.

A record is ``<decimal payload length>\\n<payload>``; records follow each other
with no separator, and HTTP chunk boundaries are unrelated to record
boundaries, so the decoder must cope with records split anywhere.
"""

from __future__ import annotations

from typing import Any

from mesos_py.common import jsoncodec

# A length prefix longer than this is garbage, not a record: 2**64 has 20 digits.
_MAX_LENGTH_DIGITS = 20


class RecordIOError(ValueError):
    """The byte stream is not valid RecordIO."""


def encode(payload: bytes) -> bytes:
    """Frame one payload as a record."""
    return b"%d\n%s" % (len(payload), payload)


def encode_json(message: Any) -> bytes:
    """Frame one JSON-encodable message (an Event or Call) as a record."""
    return encode(jsoncodec.encode(message))


class Decoder:
    """Incremental RecordIO decoder: feed bytes, get the complete records."""

    def __init__(self, max_record_size: int = 64 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max_record_size = max_record_size

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        records = []
        while True:
            newline = self._buffer.find(b"\n", 0, _MAX_LENGTH_DIGITS + 1)
            if newline < 0:
                if self._buffer and (
                    len(self._buffer) > _MAX_LENGTH_DIGITS or not self._buffer.isdigit()
                ):
                    raise RecordIOError(f"bad record length prefix {bytes(self._buffer[:24])!r}")
                return records
            prefix = bytes(self._buffer[:newline])
            if not prefix.isdigit():
                raise RecordIOError(f"bad record length prefix {prefix!r}")
            length = int(prefix)
            if length == 0 or length > self._max_record_size:
                raise RecordIOError(f"record length {length} out of range")
            end = newline + 1 + length
            if len(self._buffer) < end:
                return records
            records.append(bytes(self._buffer[newline + 1 : end]))
            del self._buffer[:end]

    def feed_json(self, data: bytes) -> list[Any]:
        return [jsoncodec.decode(record) for record in self.feed(data)]
