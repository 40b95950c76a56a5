"""The RESP3 the grant cache's tracking channel speaks: commands out, replies and push messages
in, parsed as bytes arrive so that an invalidation is applied in the same event-loop callback
that read it (see tracking.py)."""

from __future__ import annotations

from dataclasses import dataclass

#: A reply bigger than this is not one the channel asked for: the connection is dropped.
MAX_BUFFER = 16 * 1024 * 1024


class ProtocolError(ValueError):
    """Bytes that are not RESP3, or more of them than any expected reply."""


@dataclass(frozen=True, slots=True)
class ReplyError:
    """An error reply (`-ERR ...`, `-MOVED ...`): a value, so that it reaches the command that
    caused it instead of breaking the parse."""

    message: str


@dataclass(frozen=True, slots=True)
class Push:
    """An out-of-band push message (`>`), e.g. `invalidate` with its keys."""

    items: tuple[object, ...]


class _IncompleteError(Exception):
    """The buffer ends inside a frame: wait for more bytes."""


def encode(*parts: str | bytes | int) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        raw = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class Parser:
    """Incremental: `feed` returns every complete frame so far and keeps the rest."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    @property
    def pending(self) -> bool:
        """Whether part of a frame is buffered (a message has started to arrive)."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[object]:
        """Add `data`; the frames it completes, in order."""
        buffer = self._buffer + data if self._buffer else data
        frames: list[object] = []
        position = 0
        try:
            while position < len(buffer):
                frame, position = _parse(buffer, position)
                frames.append(frame)
        except _IncompleteError:
            pass
        self._buffer = buffer[position:]
        if len(self._buffer) > MAX_BUFFER:
            raise ProtocolError("a reply larger than any the channel asks for")
        return frames


def _line(buffer: bytes, position: int) -> tuple[bytes, int]:
    end = buffer.find(b"\r\n", position)
    if end < 0:
        raise _IncompleteError
    return buffer[position:end], end + 2


def _blob(buffer: bytes, position: int, size: int) -> tuple[bytes, int]:
    end = position + size
    if len(buffer) < end + 2:
        raise _IncompleteError
    if buffer[end : end + 2] != b"\r\n":
        raise ProtocolError("a blob not ended by CRLF")
    return buffer[position:end], end + 2


def _count(head: bytes) -> int:
    try:
        return int(head)
    except ValueError:
        raise ProtocolError(f"not a length: {head[:20]!r}") from None


def _parse(buffer: bytes, position: int) -> tuple[object, int]:
    """One frame starting at `position` (one branch per RESP3 type)."""
    line, position = _line(buffer, position)
    kind, head = line[:1], line[1:]
    if kind in (b"+", b"("):
        return (head if kind == b"+" else int(head)), position
    if kind == b":":
        return _count(head), position
    if kind == b"-":
        return ReplyError(head.decode("utf-8", "replace")), position
    if kind == b"_":
        return None, position
    if kind == b"#":
        return head == b"t", position
    if kind == b",":
        return float(head), position
    if kind in (b"$", b"!", b"="):
        size = _count(head)
        if size < 0:  # the RESP2 null bulk string
            return None, position
        blob, position = _blob(buffer, position, size)
        if kind == b"!":
            return ReplyError(blob.decode("utf-8", "replace")), position
        return (blob[4:] if kind == b"=" else blob), position
    if kind in (b"*", b"~", b">", b"%", b"|"):
        size = _count(head)
        if size < 0:  # the RESP2 null array
            return None, position
        items: list[object] = []
        for _ in range(size * 2 if kind in (b"%", b"|") else size):
            item, position = _parse(buffer, position)
            items.append(item)
        if kind == b">":
            return Push(tuple(items)), position
        if kind == b"%":
            return _pairs(items), position
        if kind == b"|":  # attributes annotate the next frame: skip them
            return _parse(buffer, position)
        return items, position
    raise ProtocolError(f"unknown RESP3 type {kind!r}")


def _pairs(items: list[object]) -> dict[object, object]:
    keys = [item if not isinstance(item, list) else tuple(item) for item in items[0::2]]
    return dict(zip(keys, items[1::2], strict=True))
