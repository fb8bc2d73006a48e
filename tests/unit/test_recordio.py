"""RecordIO framing, byte for byte, including records split across chunks."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.common import recordio


def test_heartbeat_is_framed_with_its_byte_length():
    assert recordio.encode_json({"type": "HEARTBEAT"}) == b'20\n{"type":"HEARTBEAT"}'


def test_length_counts_utf8_bytes_not_characters():
    record = recordio.encode("é".encode())
    assert record == b"2\n\xc3\xa9"


def test_decoder_returns_several_records_from_one_chunk():
    data = recordio.encode(b"a") + recordio.encode(b"bcd")
    assert recordio.Decoder().feed(data) == [b"a", b"bcd"]


def test_decoder_waits_for_the_rest_of_a_split_record():
    decoder = recordio.Decoder()
    assert decoder.feed(b"5\nab") == []
    assert decoder.feed(b"cde3") == [b"abcde"]
    assert decoder.feed(b"\nxyz") == [b"xyz"]


@pytest.mark.parametrize(
    "garbage", [b"x\n{}", b" 2\n{}", b"-1\n", b"0\n", b"123456789012345678901"]
)
def test_decoder_rejects_garbage_prefixes(garbage):
    with pytest.raises(recordio.RecordIOError):
        recordio.Decoder().feed(garbage)


def test_decoder_rejects_records_over_the_size_cap():
    with pytest.raises(recordio.RecordIOError):
        recordio.Decoder(max_record_size=10).feed(b"11\n")


events = st.lists(
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=30), min_size=1),
    min_size=1,
    max_size=8,
)


@given(events, st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_any_chunking_yields_the_same_events(messages, cuts):
    stream = b"".join(recordio.encode_json(m) for m in messages)
    decoder = recordio.Decoder()
    decoded, position, index = [], 0, 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        decoded += decoder.feed_json(stream[position : position + size])
        position += size
        index += 1
    assert decoded == [json.loads(json.dumps(m)) for m in messages]
