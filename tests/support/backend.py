"""The protected application for end-to-end tests: answers everything and remembers what it saw.

Every method gets 200 and a JSON body echoing the method, path, query and every request header
as received, so a test can assert exactly what a proxy let through (and the request log proves
when a request never arrived at all).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.ports import LOOPBACK

TEST_ID_HEADER = "X-Test-Id"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the application received it."""

    method: str
    target: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def has_header(self, name: str) -> bool:
        """Whether the header arrived at all, under any case."""
        return self.header(name) is not None

    def as_json(self) -> dict[str, object]:
        """The echo body."""
        return {
            "method": self.method,
            "target": self.target,
            "path": self.path,
            "query": self.query,
            "headers": [list(pair) for pair in self.headers],
            "body_length": len(self.body),
        }


class Backend:
    """A threaded stdlib HTTP server on 127.0.0.1 with a request log."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._seen: list[SeenRequest] = []
        self._server = _QuietServer((LOOPBACK, port), _handler_for(self._record))
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"backend:{self.port}", daemon=True
        )

    def start(self) -> Backend:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self._seen.append(request)

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._seen)

    def requests_for(self, test_id: str) -> list[SeenRequest]:
        """The requests that carried `X-Test-Id: test_id`."""
        return [r for r in self.requests if r.header(TEST_ID_HEADER) == test_id]

    def clear(self) -> None:
        """Forget every request seen so far."""
        with self._lock:
            self._seen.clear()

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Proxies drop idle keep-alive connections; that is not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _handler_for(record: Callable[[SeenRequest], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "e2e-backend"

        def _serve(self) -> None:
            body = self._read_body()
            parts = urlsplit(self.path)
            seen = SeenRequest(
                method=self.command,
                target=self.path,
                path=parts.path,
                query=parts.query,
                headers=tuple(self.headers.items()),
                body=body,
            )
            record(seen)
            payload = json.dumps(seen.as_json()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the request log is the record."""

    for method in METHODS:
        setattr(Handler, f"do_{method}", Handler._serve)
    return Handler
