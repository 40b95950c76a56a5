"""Redis keys of the notifier, beside the outbox stream it reads (all in the `{cs}` slot, so the
scripts that move a delivery along touch one slot on Redis Cluster)."""

from __future__ import annotations

from app.adapters.store.keys import PREFIX, digest

#: The consumer group on the outbox stream: each entry goes to one replica's notifier.
GROUP = "notifiers"
#: "<channel> <order key>" → when the head of that delivery queue is next due (a retry after
#: a failure, or the end of the lease of whoever is sending it now).
RETRY_KEY = f"{PREFIX}:notify:retry"
#: "<entry id> <channel>" → failed tries so far.
ATTEMPTS_KEY = f"{PREFIX}:notify:attempts"
#: Deliveries given up on after the last try: a stream of JSON records, newest last.
DEAD_KEY = f"{PREFIX}:notify:dead"
DEAD_MAXLEN = 10_000
#: The last outbox entry id the group is known to have handed out, advanced by every replica
#: after each read: the group's own position goes when the stream or the group does.
CURSOR_KEY = f"{PREFIX}:notify:cursor"


def member(channel: str, order_key: str) -> str:
    """The retry-schedule member of one delivery queue."""
    return f"{channel} {order_key}"


def parse_member(raw: bytes | str) -> tuple[str, str]:
    """(channel, order key) of a retry-schedule member."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    channel, _, order_key = text.partition(" ")
    return channel, order_key


def queue_key(channel: str, order_key: str) -> str:
    """Outbox entry ids waiting for `channel`, for one request, oldest (the one being sent or
    waiting for its retry) first."""
    return f"{PREFIX}:notify:queue:{digest(channel, order_key)}"


def attempts_field(entry_id: str, channel: str) -> str:
    """The field of ATTEMPTS_KEY for one delivery."""
    return f"{entry_id} {channel}"


def warned_key(request_id: str) -> str:
    """Set once the expiry warning of a request is in the outbox."""
    return f"{PREFIX}:notify:warned:{digest(request_id)}"
