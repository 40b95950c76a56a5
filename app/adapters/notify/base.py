"""What every channel sender is: something that delivers one notice or raises DeliveryError."""

from __future__ import annotations

from typing import Protocol

from app.core.notify import Delivery, Notice


class DeliveryError(RuntimeError):
    """A delivery that did not go through (the worker retries it). The text is a short reason,
    never a URL or a credential."""


class Sender(Protocol):
    """Sends one notice on one channel."""

    async def send(self, notice: Notice, delivery: Delivery, *, delivery_id: str) -> None:
        """Deliver, or raise DeliveryError."""
        ...
