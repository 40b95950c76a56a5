"""The SHA-256 fingerprint of a client certificate a trusted proxy passed in a header.

Proxies pass the certificate in different spellings; all of them are read:

- nginx `$ssl_client_escaped_cert`: the whole PEM, URL-escaped;
- Traefik `passTLSClientCert` (`X-Forwarded-Tls-Client-Cert`): the PEM body (base64 DER) without
  its armour lines, possibly URL-escaped, several certificates separated by commas;
- Envoy `%DOWNSTREAM_PEER_CERT%`: the whole PEM, URL-escaped;
- Caddy `{http.request.tls.client.certificate_der_base64}`: base64 DER.

Only the first (leaf) certificate counts. The fingerprint is computed over its DER bytes, as
`openssl x509 -fingerprint -sha256` does. Anything that is not one well-formed X.509 certificate
(too long, bad escapes, bad base64, trailing bytes, not a certificate) is no certificate at all:
None, never a guess.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from urllib.parse import unquote

from cryptography import x509

#: Longer than this is not one client certificate (a real one is 1-3 KB of DER).
MAX_HEADER_CHARS = 16384
#: Fingerprints of header values already seen (clients reuse their certificate); cleared when full.
CACHE_SIZE = 1024
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_WHITESPACE = re.compile(r"\s+")
_seen: dict[str, str | None] = {}


def certificate_fingerprint(value: str) -> str | None:
    """Lower-case hex SHA-256 of the certificate's DER, or None for anything unreadable."""
    if not value or len(value) > MAX_HEADER_CHARS:
        return None
    if value in _seen:
        return _seen[value]
    fingerprint = _fingerprint(value)
    if len(_seen) >= CACHE_SIZE:
        _seen.clear()
    _seen[value] = fingerprint
    return fingerprint


def _fingerprint(value: str) -> str | None:
    der = _der(value.strip())
    if der is None:
        return None
    try:
        x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    return hashlib.sha256(der).hexdigest()


def _der(text: str) -> bytes | None:
    if "%" in text:
        try:
            text = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return None
    if _BEGIN in text:
        start = text.index(_BEGIN) + len(_BEGIN)
        end = text.find(_END, start)
        if end < 0:
            return None
        body = text[start:end]
    else:
        body = text.split(",", 1)[0]
    body = _WHITESPACE.sub("", body)
    if not body or len(body) % 4 or not _BASE64.match(body):
        return None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
