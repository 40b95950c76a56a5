"""Real receivers on loopback for the audit sink tests: an HTTP receiver of signed JSON lines
that can be down, broken or slow (held until released), a syslog collector over TCP or TLS
that reads octet-counted frames, and a test certificate authority."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.core.notify import SIGNATURE_HEADER, verify
from tests.support.ports import LOOPBACK, free_port


@dataclass
class LinesReceiver:
    """Accepts POSTs of JSON lines, checking the signature with `secret` (401 when wrong).

    `status` is the answer (503 plays a broken receiver); while `gate` is clear, every POST
    waits for it before being answered (a slow receiver)."""

    secret: bytes
    port: int = field(default_factory=free_port)
    status: int = 200
    batches: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    tries: int = 0
    bad_signatures: int = 0
    gate: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://{LOOPBACK}:{self.port}/ingest"

    def start(self) -> LinesReceiver:
        """Listen (again, on the same port)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.gate.wait(timeout=60)
                status = receiver.handle(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        """Check and record one POST; the status to answer."""
        with self._lock:
            self.tries += 1
            if not verify(
                self.secret, headers.get(SIGNATURE_HEADER, ""), body, now=int(time.time())
            ):
                self.bad_signatures += 1
                return 401
            if self.status == 200:
                self.batches.append((headers, body))
            return self.status

    def stop(self) -> None:
        """Stop listening (connections are refused until `start`)."""
        self.gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def records(self) -> list[dict[str, Any]]:
        """Every accepted line, decoded, in arrival order."""
        with self._lock:
            return [json.loads(line) for _, body in self.batches for line in body.splitlines()]

    def ids(self) -> list[str]:
        """The entry ids of every accepted line, in arrival order."""
        return [record["id"] for record in self.records()]


#: RFC 5424: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
SYSLOG_5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) (?P<msgid>\S+) "
    rb"(?P<sd>-|\[.*?\]) (?P<msg>.*)$",
    re.DOTALL,
)


@dataclass
class SyslogCollector:
    """Reads octet-counted RFC 5424 messages over TCP, or TLS with `tls` (cert, key)."""

    tls: tuple[Path, Path] | None = None
    port: int = field(default_factory=free_port)
    messages: list[bytes] = field(default_factory=list)
    framing_errors: int = 0
    _server: socketserver.ThreadingTCPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SyslogCollector:
        """Listen on 127.0.0.1:port."""
        collector = self
        context: ssl.SSLContext | None = None
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                if context is not None:
                    try:
                        self.request = context.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError):
                        self.request = None
                        return
                super().setup()

            def handle(self) -> None:
                if self.request is None:
                    return
                collector.read_frames(self.rfile)

            def finish(self) -> None:
                if self.request is not None:
                    super().finish()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def read_frames(self, stream: Any) -> None:
        """`<length> <message>` frames until the connection ends."""
        while True:
            digits = b""
            while (char := stream.read(1)) not in (b" ", b""):
                digits += char
            if not digits and char == b"":
                return
            if not digits.isdigit():
                with self._lock:
                    self.framing_errors += 1
                return
            payload = stream.read(int(digits))
            with self._lock:
                self.messages.append(payload)

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def parsed(self) -> list[dict[str, Any]]:
        """Each message's RFC 5424 fields; `record` is the JSON after the BOM."""
        out = []
        with self._lock:
            messages = list(self.messages)
        for payload in messages:
            found = SYSLOG_5424.match(payload)
            assert found is not None, payload[:120]
            fields = {k: v.decode() for k, v in found.groupdict().items()}
            assert fields["msg"].startswith("\ufeff")
            fields["record"] = json.loads(fields["msg"][1:])
            out.append(fields)
        return out


@dataclass(frozen=True)
class TestCa:
    """A certificate authority and a server certificate for 127.0.0.1 that it signed."""

    ca: Path
    cert: Path
    key: Path


def make_ca(directory: Path, name: str = "countersign-test-ca") -> TestCa:
    """A new CA (its certificate in `ca`) and a leaf for 127.0.0.1 signed by it, as PEM."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syslog.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = TestCa(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths
