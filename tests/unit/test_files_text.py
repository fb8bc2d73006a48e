"""``/files/read`` text: its UTF-8 length is the number of bytes it shows."""

from hypothesis import given
from hypothesis import strategies as st

from mesos_py.agent.http_endpoints import text_of_chunk


def test_valid_utf8_is_shown_as_is():
    data = "héllo → wörld\n".encode()
    assert text_of_chunk(data, 4096) == "héllo → wörld\n"


def test_each_invalid_byte_is_one_question_mark():
    assert text_of_chunk(b"a\xffb\xfe\xfdc", 4096) == "a?b??c"


def test_a_character_cut_at_the_end_is_left_for_the_next_read():
    data = "ab€".encode()  # the euro sign is three bytes
    assert text_of_chunk(data[:-1], 4) == "ab"
    assert text_of_chunk(data[2:], 4) == "€"


def test_the_unfinished_end_of_a_growing_file_waits_for_the_rest():
    assert text_of_chunk("€".encode()[:2], 4096) == ""


def test_a_read_too_short_for_its_character_still_moves_on():
    assert text_of_chunk("€".encode()[:1], 1) == "?"


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=64))
def test_following_a_file_in_chunks_never_drifts(content, chunk):
    """Reading at offset += len(text in UTF-8) shows every byte, in order, once."""
    offset, shown = 0, []
    while offset < len(content):
        text = text_of_chunk(content[offset : offset + chunk], chunk)
        if not text:  # the file ends inside a character: wait for more
            assert len(content) - offset < min(4, chunk)
            break
        shown.append(text)
        offset += len(text.encode())
    if chunk >= 4:  # every read long enough for any character: as if decoded at once
        assert "".join(shown) == text_of_chunk(content, len(content) + 1)
