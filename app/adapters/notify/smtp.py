"""The e-mail sender: stdlib smtplib in a worker thread, with STARTTLS or implicit TLS
(certificates verified, optionally against a given CA file) and optional AUTH.

The Message-ID is made from the delivery id, so a receiver that sees a retried message twice
can tell it is the same one.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from app.adapters.http_errors import cause
from app.adapters.notify.base import DeliveryError
from app.config.channels import SmtpChannel
from app.core.notify import Delivery, Notice, mail


class SmtpSender:
    """Sends one multipart (plain text + HTML) message per delivery to its recipients."""

    def __init__(self, channel: SmtpChannel, *, timeout: float) -> None:
        self._channel = channel
        self._timeout = timeout

    def message(self, notice: Notice, delivery: Delivery, *, delivery_id: str) -> EmailMessage:
        """The MIME message for one delivery."""
        content = mail(notice)
        sender = self._channel.sender or ""
        domain = parseaddr(sender)[1].rpartition("@")[2] or "countersign.invalid"
        message = EmailMessage()
        message["Subject"] = content.subject
        message["From"] = sender
        message["To"] = ", ".join(delivery.recipients)
        message["Date"] = format_datetime(datetime.now(UTC))
        token = "".join(c if c.isalnum() or c in "-." else "." for c in delivery_id)
        message["Message-ID"] = f"<{token}.{self._channel.name}@{domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(content.text)
        message.add_alternative(content.html, subtype="html")
        return message

    async def send(self, notice: Notice, delivery: Delivery, *, delivery_id: str) -> None:
        """Send in a thread (smtplib blocks); SMTP and network errors become DeliveryError."""
        if not delivery.recipients:
            return
        message = self.message(notice, delivery, delivery_id=delivery_id)
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(f"SMTP {error.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(cause(error)) from None

    def _send(self, message: EmailMessage) -> None:
        channel = self._channel
        host, port = channel.host or "", channel.port or 0
        cafile = str(channel.ca_file) if channel.ca_file else None
        context = ssl.create_default_context(cafile=cafile)
        client: smtplib.SMTP
        if channel.security == "tls":
            client = smtplib.SMTP_SSL(host, port, timeout=self._timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=self._timeout)
        with client:
            client.ehlo()
            if channel.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if channel.username and channel.password:
                client.login(channel.username, channel.password.get_secret_value())
            client.send_message(message)
