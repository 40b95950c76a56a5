"""What every audit sink is: something that takes a batch of records, in order, and returns
only once the receiver has them, or raises SinkError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from app.adapters.audit_sinks.records import AuditRecord


class SinkError(RuntimeError):
    """A delivery that did not go through (the runner tries again, from the same entry). The
    text is a short reason, never a URL, a credential or an entry's content."""


class Sink(Protocol):
    """Delivers batches of audit records to one receiver."""

    async def send(self, records: Sequence[AuditRecord]) -> None:
        """Deliver `records` (oldest first), or raise SinkError."""
        ...

    async def last_held(self) -> str | None:
        """The newest entry id the receiver is known to hold, when the sink can tell (a file
        reads its own tail, so a crash between writing and moving the cursor writes nothing
        twice); None when it cannot."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...
