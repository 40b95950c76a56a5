"""The tracking channel's RESP3 parser: frames come out whole however the bytes are split, a
half-read frame is visible as pending, and error replies are values, not exceptions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.adapters.store.resp3 import Parser, ProtocolError, Push, ReplyError, encode

#: What the channel receives: HELLO's map, OK, ROLE, EXISTS, an invalidation, a flush, MOVED.
STREAM = (
    b"%2\r\n$6\r\nserver\r\n$6\r\nvalkey\r\n$2\r\nid\r\n:7\r\n"
    b"+OK\r\n"
    b"*3\r\n$6\r\nmaster\r\n:9\r\n*0\r\n"
    b":0\r\n"
    b">2\r\n$10\r\ninvalidate\r\n*2\r\n$22\r\ncs:{cs}:access:a:grant\r\n$21\r\ncs:{cs}:access:a:open\r\n"
    b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    b"-MOVED 1234 127.0.0.1:7001\r\n"
)
FRAMES = [
    {b"server": b"valkey", b"id": 7},
    b"OK",
    [b"master", 9, []],
    0,
    Push((b"invalidate", [b"cs:{cs}:access:a:grant", b"cs:{cs}:access:a:open"])),
    Push((b"invalidate", None)),
    ReplyError("MOVED 1234 127.0.0.1:7001"),
]


def test_a_stream_read_at_once_gives_every_frame() -> None:
    """All frames, in order, nothing left pending."""
    parser = Parser()
    assert parser.feed(STREAM) == FRAMES
    assert not parser.pending


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), unique=True))
def test_any_split_gives_the_same_frames(cuts: list[int]) -> None:
    """However the bytes arrive, the same frames come out, each once it is complete."""
    parser = Parser()
    frames: list[object] = []
    start = 0
    for cut in [*sorted(cuts), len(STREAM)]:
        frames += parser.feed(STREAM[start:cut])
        start = cut
    assert frames == FRAMES


def test_half_a_frame_is_pending() -> None:
    """Bytes of an invalidation not yet complete: no frame, but pending."""
    parser = Parser()
    assert parser.feed(b">2\r\n$10\r\ninvalid") == []
    assert parser.pending


def test_garbage_is_a_protocol_error() -> None:
    """A type byte RESP3 does not have drops the connection (the caller's rule)."""
    with pytest.raises(ProtocolError):
        Parser().feed(b"?what\r\n")


def test_commands_are_arrays_of_bulk_strings() -> None:
    """encode() frames any argument as a bulk string."""
    assert encode("EXISTS", b"k", 3) == b"*3\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n$1\r\n3\r\n"
