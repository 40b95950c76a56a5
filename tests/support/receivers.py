"""Real receivers on loopback for notification tests: an HTTP receiver that checks the webhook
signature (or plays Slack), and an SMTP server from aiosmtpd that keeps every message.

Each can answer with a chosen status, be "down" (not listening) and come back on the same port.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer  # noqa: N811  (aiosmtpd's own name)
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from app.core.notify import SIGNATURE_HEADER, verify
from tests.support.ports import LOOPBACK, free_port


@dataclass(frozen=True)
class Received:
    """One accepted POST."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body, decoded."""
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records POSTs. With `secret`, only correctly signed ones are accepted (401 otherwise).

    `status` is what it answers (e.g. 500 to play a broken receiver); `tries` counts every POST.
    """

    secret: bytes | None = None
    port: int = field(default_factory=free_port)
    status: int = 200
    received: list[Received] = field(default_factory=list)
    tries: int = 0
    bad_signatures: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://{LOOPBACK}:{self.port}/hook"

    def start(self) -> HttpReceiver:
        """Listen (again, on the same port)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """Decide the answer to one POST and record it."""
        with self._lock:
            self.tries += 1
            if self.secret is not None:
                header = headers.get(SIGNATURE_HEADER, "")
                if not verify(self.secret, header, body, now=int(time.time())):
                    self.bad_signatures += 1
                    return 401
            if self.status == 200:
                self.received.append(Received(path, headers, body))
            return self.status

    def stop(self) -> None:
        """Stop listening (connections are refused until `start`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def bodies(self) -> list[Any]:
        """Every accepted body, decoded, in arrival order."""
        with self._lock:
            return [r.json() for r in self.received]


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:  # noqa: N802
        del server, session
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((envelope, parsed))
        return "250 OK"


@dataclass
class SmtpReceiver:
    """A real SMTP server (aiosmtpd). With `tls`, STARTTLS is required and AUTH LOGIN/PLAIN
    checks `username`/`password`."""

    tls: tuple[Path, Path] | None = None
    username: str = "countersign"
    password: str = "s3cret-smtp"
    port: int = field(default_factory=free_port)
    _mailbox: _Mailbox = field(default_factory=_Mailbox)
    _controller: Controller | None = None

    def start(self) -> SmtpReceiver:
        """Listen on 127.0.0.1:port."""
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            kwargs = {
                "tls_context": context,
                "require_starttls": True,
                "authenticator": self._authenticate,
                "auth_require_tls": True,
                "auth_required": True,
            }
        self._controller = Controller(self._mailbox, hostname=LOOPBACK, port=self.port, **kwargs)
        self._controller.start()
        return self

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        del server, session, envelope, mechanism
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok)

    def stop(self) -> None:
        """Stop the server."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[tuple[Envelope, EmailMessage]]:
        """Every message received so far: (envelope, parsed message)."""
        with self._mailbox.lock:
            return list(self._mailbox.messages)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files; the certificate is its own CA."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "countersign-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def wait_for(condition: Callable[[], bool], *, timeout: float = 8.0, every: float = 0.02) -> bool:
    """Poll `condition` until it holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()
