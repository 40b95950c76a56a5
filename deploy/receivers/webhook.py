"""A tiny webhook receiver for trying Countersign's notifications: it checks each delivery's
signature and timestamp and prints the verified ones as JSON lines (401 for anything else).

    CS_WEBHOOK_SECRET=dev-webhook-secret python deploy/receivers/webhook.py --port 9100

Standard library only, so it doubles as an example of verifying `Countersign-Signature`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds; older deliveries are refused as replays


def verified(secret: bytes, header: str, body: bytes, now: float) -> bool:
    """Whether `header` (`t=<unix>,v1=<hex>`) signs `body` recently enough."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE:
        return False
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def serve(host: str, port: int, secret: bytes) -> None:
    """Answer POSTs until interrupted."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = verified(secret, self.headers.get("Countersign-Signature", ""), body, time.time())
            self.send_response(204 if ok else 401)
            self.end_headers()
            if ok:
                sys.stdout.write(json.dumps(json.loads(body), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                sys.stderr.write("refused a delivery with a bad or stale signature\n")

        def log_message(self, format: str, *args: object) -> None:
            """Only deliveries are printed."""

    server = ThreadingHTTPServer((host, port), Handler)
    sys.stderr.write(f"listening on http://{host}:{port}/\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--secret-env", default="CS_WEBHOOK_SECRET", help="variable holding the shared secret"
    )
    args = parser.parse_args()
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        sys.stderr.write(f"set {args.secret_env} to the channel's secret\n")
        return 2
    serve(args.host, args.port, secret.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
