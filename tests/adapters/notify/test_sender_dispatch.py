"""Choosing a channel's sender: an unknown kind is a bug, never quietly an SMTP sender."""

from __future__ import annotations

import asyncio

import pytest

from app.adapters.notify.hooks import http_client
from app.adapters.notify.senders import build_sender
from app.config.channels import SmtpChannel


def test_an_unknown_kind_is_refused_not_sent_by_smtp() -> None:
    """A kind outside the closed set raises instead of falling back to the SMTP sender."""
    channel = SmtpChannel.model_construct(name="pager", kind="pager", host="127.0.0.1")

    async def go() -> None:
        async with http_client(5.0) as client:
            build_sender(channel, client=client, timeout=5.0)

    with pytest.raises(AssertionError):
        asyncio.run(go())
