"""The notifier's timings and limits, in one value the service builds from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Timings and limits; the defaults suit production, tests shrink them."""

    max_attempts: int = 8
    retry_base: float = 5.0
    retry_max: float = 900.0
    #: How long a delivery being sent stays its sender's before another replica may take it.
    lease: float = 60.0
    #: Outbox entries read but not queued for this long (their reader died) are taken over.
    claim_idle: float = 60.0
    block: float = 2.0
    poll: float = 0.5
    expiry_warning: timedelta = timedelta(minutes=15)
    warning_every: float = 5.0
    batch: int = 50
    concurrency: int = 16
    #: A loop that fails pauses this long after its first failure, doubling up to the cap.
    error_pause: float = 0.5
    error_pause_max: float = 30.0
    #: A group created with no position known anywhere starts this far back in the outbox.
    fresh_window: timedelta = timedelta(hours=1)
