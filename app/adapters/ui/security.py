"""What every page answer carries, and how a form post proves it came from our own page.

CSRF: the token in each form is HMAC-SHA256 keyed with the SHA-256 of the caller's session
token. The session token sits in an HttpOnly cookie another site can neither read nor set for
our host with a valid signature, and every replica and worker sees the same cookie, so they all
agree on the token without sharing a secret; a leaked form token reveals nothing about the
session (the hash is one-way). Browsers that say where a post came from are also held to
same-origin posts, which stops sibling subdomains as well as other sites: `Sec-Fetch-Site` must
be same-origin (or none), and an `Origin` header must be exactly the origin of PUBLIC_URL
(`Origin: null`, sent by sandboxed frames and some redirects, is refused).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

#: Sent on every page, redirect and error answer of the UI.
PAGE_HEADERS: Mapping[str, str] = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    # same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on the
    # pages' own posts, which the Origin check must refuse. Nothing leaves for other sites.
    "referrer-policy": "same-origin",
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

_CSP = "content-security-policy"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")


def csp_allowing_form_redirect_to(url: str | None) -> str | None:
    """The pages' CSP with `form-action` also allowing the origin of `url`, or None.

    Browsers apply the `form-action` of the page holding a form to every redirect its post
    is answered with: a form whose post ends in a 303 to an application (the reason given,
    go on to the Wiki) or to the provider's sign-out needs that origin listed, or the browser
    stays on our page. `url` must already be a validated redirect target."""
    if not url:
        return None
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not _ORIGIN.match(origin):
        return None
    policy = PAGE_HEADERS[_CSP]
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}")


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


_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=8)
def origin_of(public_url: str) -> str:
    """`scheme://host[:port]` of PUBLIC_URL, serialised as browsers send it in `Origin`."""
    parts = urlsplit(public_url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def same_origin_post(headers: Mapping[str, str], *, public_origin: str | None = None) -> bool:
    """False when the browser says the post came from another site or a sibling subdomain.

    `headers` are lower-cased names. `public_origin` (`origin_of(PUBLIC_URL)`) is what `Origin`
    must equal when the browser sends one; `Origin: null` is refused even without it.
    """
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _OWN_FETCH_SITES:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin == "null":
        return False
    return public_origin is None or origin == public_origin
