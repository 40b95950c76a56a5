"""What every page answer carries, and how a form post proves it came from our own page.

CSRF: the token in each form is HMAC-SHA256 keyed with the SHA-256 of the caller's session
token. The session token sits in an HttpOnly cookie another site can neither read nor set for
our host with a valid signature, and every replica and worker sees the same cookie, so they all
agree on the token without sharing a secret; a leaked form token reveals nothing about the
session (the hash is one-way). Browsers that say where a post came from (`Sec-Fetch-Site`) are
also held to same-origin posts, which stops sibling subdomains as well as other sites.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

#: Sent on every page, redirect and error answer of the UI.
PAGE_HEADERS: Mapping[str, str] = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}

#: Static files are the same for every user and change only with a release (their URLs carry
#: a content hash), so they may be cached.
STATIC_HEADERS: Mapping[str, str] = {
    "x-content-type-options": "nosniff",
    "cache-control": "public, max-age=86400",
    "cross-origin-resource-policy": "same-origin",
}

_CSRF_LABEL = b"countersign page form v1"
#: Values of Sec-Fetch-Site a form post of ours can carry ("none": typed or bookmarked).
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def csrf_token(session_token: str) -> str:
    """The form token for the session holding `session_token`."""
    key = hashlib.sha256(session_token.encode("utf-8", "replace")).digest()
    return hmac.new(key, _CSRF_LABEL, "sha256").hexdigest()


def same_token(given: str, expected: str) -> bool:
    """Whether a posted form token is the session's own (constant-time comparison)."""
    return bool(given) and hmac.compare_digest(
        given.encode("ascii", "replace"), expected.encode("ascii", "replace")
    )


def same_origin_post(headers: Mapping[str, str]) -> bool:
    """False when the browser says the post came from another site or a sibling subdomain."""
    site = headers.get("sec-fetch-site")
    return site is None or site.strip().lower() in _OWN_FETCH_SITES
