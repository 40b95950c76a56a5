"""Does the audit log extend every signed checkpoint? (ADR 0018)

Fed the chain as it is walked — where retention cut it and the hash of each kept entry by its
position (count) — it tells, for every checkpoint, whether the entry at its count has its hash.
A matching checkpoint pins every entry up to it, since each hash covers all before it; one that
does not match means the history was rewritten; one beyond the end means entries were removed.
Pure: the signatures have been checked before the checkpoints get here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.audit_checkpoint import SignedCheckpoint


@dataclass(frozen=True, slots=True)
class Rewritten:
    """A checkpoint whose entry now has another hash."""

    checkpoint: SignedCheckpoint
    found: str


@dataclass(frozen=True, slots=True)
class AnchorReport:
    """The outcome: checkpoints whose entry matched, whose entry retention trimmed (not
    checkable), whose entry has another hash, and that lie beyond the end of the log."""

    trimmed: int
    total: int
    matched: tuple[SignedCheckpoint, ...] = ()
    too_old: tuple[SignedCheckpoint, ...] = ()
    rewritten: tuple[Rewritten, ...] = ()
    beyond: tuple[SignedCheckpoint, ...] = ()

    @property
    def covering(self) -> SignedCheckpoint | None:
        """The oldest matched checkpoint at or after the retention cut: it pins the kept log's
        start (the first kept entry and the hash it chains from)."""
        return self.matched[0] if self.matched else None

    @property
    def newest(self) -> SignedCheckpoint | None:
        """The newest matched checkpoint; entries after it are not anchored yet."""
        return self.matched[-1] if self.matched else None

    @property
    def ok(self) -> bool:
        """Every checkable checkpoint matched, none lies beyond the end, and one covers the
        kept log (with none, nothing about the kept log is proven)."""
        return not self.rewritten and not self.beyond and self.covering is not None


@dataclass
class AnchorCheck:
    """Collects what the walk shows about each checkpoint; one per walk of the log."""

    checkpoints: Iterable[SignedCheckpoint]
    _by_count: dict[int, list[SignedCheckpoint]] = field(init=False)
    _trimmed: int = field(init=False, default=0)
    _matched: list[SignedCheckpoint] = field(init=False, default_factory=list)
    _rewritten: list[Rewritten] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._by_count = {}
        unique = {(c.count, c.hash, c.key_id, c.signature): c for c in self.checkpoints}
        for checkpoint in unique.values():
            self._by_count.setdefault(checkpoint.count, []).append(checkpoint)

    def start(self, *, trimmed: int, hash: str) -> None:
        """Retention removed the first `trimmed` entries; the last of them had `hash` (the
        retention checkpoint), which the first kept entry chains from."""
        self._trimmed = trimmed
        if trimmed:
            self.see(trimmed, hash)

    def see(self, count: int, hash: str) -> None:
        """The entry at `count` (1 for the first ever written) has chain hash `hash`."""
        for checkpoint in self._by_count.get(count, ()):
            if checkpoint.hash == hash:
                self._matched.append(checkpoint)
            else:
                self._rewritten.append(Rewritten(checkpoint, hash))

    def finish(self, *, total: int) -> AnchorReport:
        """The report once the walk reached the end of a log of `total` entries (trimmed ones
        included). A checkpoint the walk never saw lies before the cut or beyond the end."""
        seen = {id(c) for c in self._matched} | {id(r.checkpoint) for r in self._rewritten}
        unseen = [c for group in self._by_count.values() for c in group if id(c) not in seen]
        return AnchorReport(
            trimmed=self._trimmed,
            total=total,
            matched=tuple(sorted(self._matched, key=_count)),
            too_old=tuple(sorted((c for c in unseen if c.count < self._trimmed), key=_count)),
            rewritten=tuple(sorted(self._rewritten, key=lambda r: r.checkpoint.count)),
            beyond=tuple(sorted((c for c in unseen if c.count >= self._trimmed), key=_count)),
        )


def _count(checkpoint: SignedCheckpoint) -> int:
    return checkpoint.count
