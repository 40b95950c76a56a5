"""Where a new or lost outbox group starts, what counts as a gap, and how a failing loop paces
itself: pure decisions, no Redis."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from app.adapters.notify.loop_errors import LoopErrors, kind_of
from app.adapters.notify.recovery import (
    ORIGIN,
    Gap,
    OutboxView,
    Rejoin,
    lost_group,
    plan_rejoin,
)

FRESH = "1700000000000-0"


def test_no_stream_starts_at_the_origin_and_forgets_the_old_position() -> None:
    """The stream is gone: whatever a new one holds is new, and the old position is another
    stream's."""
    assert plan_rejoin(OutboxView(exists=False), "500-0", fresh=FRESH) == Rejoin(
        ORIGIN, forget=True
    )


def test_a_first_start_reaches_back_a_little_when_entries_wait() -> None:
    """No position known anywhere and entries in the stream: start `fresh_window` back, not at
    the end (which skipped what was written before the first start)."""
    view = OutboxView(exists=True, first="100-0", last="900-0")
    assert plan_rejoin(view, None, fresh=FRESH) == Rejoin(FRESH)


def test_a_first_start_on_an_empty_stream_starts_at_the_origin() -> None:
    """Nothing to skip or to replay: start at the beginning."""
    view = OutboxView(exists=True, first=None, last="0-0")
    assert plan_rejoin(view, None, fresh=FRESH) == Rejoin(ORIGIN)


def test_a_destroyed_group_comes_back_at_its_position_without_a_gap() -> None:
    """The stream still holds what the group read: restart right after it."""
    view = OutboxView(exists=True, first="100-0", last="900-0")
    assert plan_rejoin(view, "500-0", fresh=FRESH) == Rejoin("500-0")


def test_entries_trimmed_unread_are_a_gap_up_to_the_first_present() -> None:
    """The first entry is newer than the last one handed out: those between are gone."""
    view = OutboxView(exists=True, first="700-0", last="900-0")
    assert plan_rejoin(view, "500-0", fresh=FRESH) == Rejoin(
        "500-0", Gap("500-0", "700-0", "900-0")
    )


def test_an_emptied_stream_that_had_newer_entries_is_a_gap() -> None:
    """Empty now, but it generated ids after the position: those entries are gone unread."""
    view = OutboxView(exists=True, first=None, last="900-0")
    assert plan_rejoin(view, "500-0", fresh=FRESH) == Rejoin("500-0", Gap("500-0", None, "900-0"))


def test_a_stream_whose_ids_went_backwards_is_read_from_the_origin() -> None:
    """Its last id is older than the position: another stream (recreated, or restored from an
    older copy) whose entries may all be unsent."""
    view = OutboxView(exists=True, first="10-0", last="20-0")
    assert plan_rejoin(view, "500-0", fresh=FRESH) == Rejoin(ORIGIN, forget=True)


def test_ids_compare_as_numbers_not_text() -> None:
    """`99-0` comes before `100-0` and `5-10` after `5-9`."""
    view = OutboxView(exists=True, first="100-0", last="100-0")
    assert plan_rejoin(view, "99-0", fresh=FRESH).gap == Gap("99-0", "100-0", "100-0")
    view = OutboxView(exists=True, first="5-9", last="5-10")
    assert plan_rejoin(view, "5-10", fresh=FRESH) == Rejoin("5-10")


def test_only_nogroup_means_the_group_is_lost() -> None:
    """NOGROUP from XREADGROUP or XAUTOCLAIM; other errors are plain failures."""
    assert lost_group(ResponseError("NOGROUP No such key 'x' or consumer group 'notifiers'"))
    assert not lost_group(ResponseError("BUSYGROUP Consumer Group name already exists"))
    assert not lost_group(RedisConnectionError("Connection refused"))


def test_a_failing_loop_pauses_longer_each_time_up_to_the_cap() -> None:
    """0.5 s, 1 s, 2 s, ... up to 30 s (at the top of the jitter), back to 0.5 s once it works."""
    errors = LoopErrors("read", base=0.5, cap=30.0, rand=lambda: 1.0)
    down = RedisConnectionError("Connection refused")
    assert [errors.failed(down) for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    errors.succeeded()
    assert errors.failed(down) == 0.5


def test_the_same_trouble_is_the_same_kind_whatever_its_text() -> None:
    """Errors differ in ids and addresses; the kind is the type and the Redis error code."""
    assert kind_of(ResponseError("NOGROUP No such key 'a'")) == kind_of(
        ResponseError("NOGROUP No such key 'b'")
    )
    assert kind_of(ResponseError("LOADING Redis is loading")) != kind_of(ResponseError("NOGROUP x"))
