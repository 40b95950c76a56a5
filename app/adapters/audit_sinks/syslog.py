"""The syslog sink: one RFC 5424 message per audit entry over TCP or TLS (RFC 5425), framed by
octet counting (RFC 6587: `<length> <message>`), on one connection kept open between batches.

    <PRI>1 2030-01-01T12:00:00.123Z host countersign - request_approved - BOM{"event":...,"id":...}

PRI is the configured facility at severity notice; the timestamp is when the entry was
appended; MSGID is the event type; MSG is the record's JSON line (its `id` is the key to
de-duplicate by). Syslog has no acknowledgement above TCP: a batch counts as delivered once
it is written and flushed to the socket, and a connection the receiver closed is noticed and
opened again before the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Sequence

from app.adapters.audit_sinks.base import SinkError
from app.adapters.audit_sinks.records import AuditRecord
from app.adapters.http_errors import cause
from app.config.audit_sinks import FACILITIES, SyslogSink

APP_NAME = "countersign"
#: RFC 5424 severity 5: normal but significant.
NOTICE = 5
_BOM = "\ufeff"


def _printable(text: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII without spaces, at most `limit` long."""
    kept = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return kept or "-"


def message(record: AuditRecord, *, facility: str, hostname: str) -> bytes:
    """The RFC 5424 message of one record (without framing)."""
    pri = FACILITIES.index(facility) * 8 + NOTICE
    stamp = (
        record.written.strftime("%Y-%m-%dT%H:%M:%S.") + f"{record.written.microsecond // 1000:03d}Z"
    )
    header = (
        f"<{pri}>1 {stamp} {_printable(hostname, 255)} {APP_NAME} - {_printable(record.type, 32)} -"
    )
    return f"{header} {_BOM}{record.json()}".encode()


def frame(payload: bytes) -> bytes:
    """Octet-counting framing (RFC 6587 3.4.1): the length in decimal, a space, the message."""
    return f"{len(payload)} ".encode() + payload


class SyslogSender:
    """Writes framed messages to one collector, reconnecting after any failure."""

    def __init__(self, config: SyslogSink) -> None:
        self._config = config
        self._hostname = config.hostname or socket.gethostname()
        self._tls = _tls_context(config) if config.transport == "tls" else None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, records: Sequence[AuditRecord]) -> None:
        """Write and flush the batch; any failure drops the connection and raises SinkError."""
        if not records:
            return
        data = b"".join(
            frame(message(r, facility=self._config.facility, hostname=self._hostname))
            for r in records
        )
        try:
            writer = await self._connection()
            writer.write(data)
            await writer.drain()
        except (OSError, ssl.SSLError, EOFError) as error:
            await self.aclose()
            raise SinkError(cause(error)) from None

    async def _connection(self) -> asyncio.StreamWriter:
        """The open connection, or a new one when there is none or the collector closed it
        (a collector never writes to us: anything readable means the end)."""
        if self._writer is not None and self._reader is not None:
            if not (self._reader.at_eof() or self._writer.is_closing()):
                return self._writer
            await self.aclose()
        config = self._config
        self._reader, self._writer = await asyncio.open_connection(
            config.host,
            config.port,
            ssl=self._tls,
            server_hostname=config.host if self._tls is not None else None,
        )
        return self._writer

    async def last_held(self) -> str | None:
        """Unknown: the collector de-duplicates by id."""
        return None

    async def aclose(self) -> None:
        """Close the connection, if any."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):  # already broken: nothing to close
                await writer.wait_closed()


def _tls_context(config: SyslogSink) -> ssl.SSLContext:
    """Certificates verified (against `ca_file` when given); a client certificate if set."""
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.cert_file is not None and config.key_file is not None:
        context.load_cert_chain(str(config.cert_file), str(config.key_file))
    return context
