"""Signed audit checkpoints as values: the bytes a signature covers, reading one back from any of
its spellings, and matching a walk of the log against a set of checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.audit_anchoring import AnchorCheck
from app.core.audit_checkpoint import (
    CheckpointClaim,
    CheckpointRecordError,
    SignedCheckpoint,
    checkpoint_in,
)

AT = datetime(2030, 1, 1, 12, 30, 5, 123456, tzinfo=UTC)
SIGNATURE = "A" * 86


def signed(count: int, hash: str = "a" * 64) -> SignedCheckpoint:
    """A checkpoint with a well-formed (not a real) signature."""
    return SignedCheckpoint(CheckpointClaim.of(count=count, hash=hash, at=AT), "0" * 16, SIGNATURE)


def hash_of(count: int) -> str:
    """A stand-in chain hash for the entry at `count`."""
    return f"{count:064x}"


def test_the_signed_bytes_are_the_domain_then_canonical_json() -> None:
    """The payload is fixed to the byte: a verifier in another language can rebuild it."""
    claim = CheckpointClaim.of(count=12, hash="b" * 64, at=AT)
    assert claim.payload() == (
        b"countersign-audit-checkpoint\n"
        b'{"at":"2030-01-01T12:30:05Z","count":12,"hash":"' + b"b" * 64 + b'","version":1}'
    )


def test_a_checkpoint_reads_back_from_the_file_an_event_and_an_export_line() -> None:
    """The file's line, the audit event a sink delivers and an export line all carry it."""
    checkpoint = signed(7)
    event = checkpoint.event()
    for line in (checkpoint.as_dict(), event, {"id": "1-0", "prev": "x", "event": event}):
        assert checkpoint_in(line) == checkpoint


def test_lines_about_other_things_are_not_checkpoints() -> None:
    """Another event, an export's retention line: skipped, not refused."""
    assert checkpoint_in({"event": {"type": "grant_issued", "data": {}}}) is None
    assert checkpoint_in({"checkpoint": {"id": "1-0", "hash": "a" * 64}}) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"count": 0}, "count"),
        ({"count": "5"}, "count"),
        ({"hash": "A" * 64}, "hash"),
        ({"signature": "short"}, "signature"),
        ({"version": 2}, "version"),
        ({"at": "yesterday"}, "at"),
    ],
)
def test_a_malformed_checkpoint_is_refused_naming_the_field(
    change: dict[str, object], problem: str
) -> None:
    """A line that says it is a checkpoint but is malformed is evidence of tampering."""
    with pytest.raises(CheckpointRecordError, match=problem):
        checkpoint_in({**signed(3).as_dict(), **change})


def test_a_log_that_has_the_signed_hash_at_each_count_extends_every_checkpoint() -> None:
    """Checkpoints of entries 5 and 10, a log of 12 whose entries match: ok, the first covers
    the start, the second is the newest."""
    first, second = signed(5, hash_of(5)), signed(10, hash_of(10))
    check = AnchorCheck([second, first])
    for count in range(1, 13):
        check.see(count, hash_of(count))
    report = check.finish(total=12)
    assert report.ok
    assert (report.covering, report.newest) == (first, second)


def test_another_hash_at_a_checkpoints_count_is_a_rewritten_history() -> None:
    """The entry at a checkpoint's count has another hash: not ok, and which one says so."""
    check = AnchorCheck([signed(5, hash_of(5))])
    check.see(5, "f" * 64)
    report = check.finish(total=5)
    assert not report.ok
    assert [(r.checkpoint.count, r.found) for r in report.rewritten] == [(5, "f" * 64)]


def test_a_checkpoint_beyond_the_end_is_a_truncated_log() -> None:
    """A log of 8 entries and a checkpoint of entry 10: not ok."""
    check = AnchorCheck([signed(5, hash_of(5)), signed(10, hash_of(10))])
    for count in range(1, 9):
        check.see(count, hash_of(count))
    report = check.finish(total=8)
    assert not report.ok
    assert [c.count for c in report.beyond] == [10]


def test_after_retention_a_checkpoint_at_or_after_the_cut_covers_the_kept_log() -> None:
    """Seven entries trimmed: the checkpoint of entry 5 cannot be checked, the one of entry 10
    covers the kept log."""
    check = AnchorCheck([signed(5, hash_of(5)), signed(10, hash_of(10))])
    check.start(trimmed=7, hash=hash_of(7))
    for count in range(8, 12):
        check.see(count, hash_of(count))
    report = check.finish(total=11)
    assert report.ok
    assert [c.count for c in report.too_old] == [5]
    assert report.covering == signed(10, hash_of(10))


def test_when_every_checkpoint_was_trimmed_nothing_is_proven() -> None:
    """The only checkpoint pins a trimmed entry: not ok (the kept log is not anchored)."""
    check = AnchorCheck([signed(5, hash_of(5))])
    check.start(trimmed=7, hash=hash_of(7))
    assert not check.finish(total=9).ok


def test_a_checkpoint_at_the_cut_is_matched_against_the_retention_hash() -> None:
    """A checkpoint of exactly the last trimmed entry pins the retention checkpoint's hash."""
    check = AnchorCheck([signed(7, hash_of(7))])
    check.start(trimmed=7, hash="e" * 64)
    assert [r.found for r in check.finish(total=9).rewritten] == ["e" * 64]


@given(
    counts=st.sets(st.integers(1, 50), min_size=1),
    total=st.integers(1, 60),
    forged=st.integers(1, 60),
)
def test_the_report_is_ok_iff_no_checkpoint_is_rewritten_or_beyond_the_end(
    counts: set[int], total: int, forged: int
) -> None:
    """Whatever the checkpoints and the log: ok exactly when every checkpoint is within the log
    and its entry has its hash (here the entry at `forged` was rewritten)."""
    check = AnchorCheck([signed(c, hash_of(c)) for c in counts])
    for count in range(1, total + 1):
        check.see(count, "f" * 64 if count == forged else hash_of(count))
    report = check.finish(total=total)
    expected = all(c <= total for c in counts) and (forged not in counts or forged > total)
    assert report.ok is expected
