"""Where Countersign may send a browser back to: its own pages or a protected host only."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.core.paths import HostError, normalize_host
from app.core.policy.policy_set import PolicySet

MAX_REDIRECT = 4096


def is_safe_redirect(url: str, *, policy_set: PolicySet, public_host: str) -> bool:
    """True for `/local/path` or an absolute http(s) URL to a protected host or ours, any port.

    Refuses scheme-relative (`//evil`), backslash tricks (`https:/\\evil`, `/\\evil`), user
    info (`https://good@evil`), control characters and anything not plain ASCII.
    """
    if not url or len(url) > MAX_REDIRECT or not url.isascii():
        return False
    if "\\" in url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return False
    if not url.lower().startswith(f"{parts.scheme}://"):
        return False
    try:
        host = normalize_host(parts.netloc)
    except HostError:
        return False
    return host == public_host or policy_set.is_protected_host(host)
