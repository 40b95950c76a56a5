"""X-Original-URL is split without urlsplit, and exactly as urlsplit splits it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.adapters.forward_auth import original
from app.adapters.forward_auth.original import BadProxyRequestError, split_url

#: The characters that matter to a URL's shape, and a few that do not.
_SHAPE = st.text(alphabet="ab:/?#@[]%.+-19AZ_~v", max_size=24)


def by_urlsplit(url: str) -> tuple[str, str, str] | str:
    """The split urlsplit makes (what split_url returned before it had its own), or the
    error split_url must raise for `url`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "forwarded URL is malformed"
    if not parts.scheme or not parts.netloc or "@" in parts.netloc:
        return "forwarded URL must be absolute, with no user info"
    uri = parts.path or "/"
    if parts.query:
        uri = f"{uri}?{parts.query}"
    return parts.scheme, parts.netloc, uri


def ours(url: str) -> tuple[str | None, str | None, str | None] | str:
    try:
        return split_url(url)
    except BadProxyRequestError as exc:
        return str(exc)


@given(
    scheme=st.sampled_from(["https", "http", "HTTPS", "ws", "x+y.z-1", "1a", "a_b", ""]),
    rest=_SHAPE,
)
@example(scheme="https", rest="//[::1]:8443/p?q#f")
@example(scheme="https", rest="//[::1/p")
@example(scheme="https", rest="//[1.2.3.4]/")
@example(scheme="https", rest="//h?")
@example(scheme="https", rest="//h/p?#x")
@example(scheme="a:b", rest="//h/")
def test_split_is_urlsplits(scheme: str, rest: str) -> None:
    """Every URL a proxy can send (printable ASCII) splits, or is refused, as urlsplit says."""
    url = f"{scheme}:{rest}"
    assert ours(url) == by_urlsplit(url)


def test_an_ordinary_url_is_split_without_urlsplit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path's URLs never reach urlsplit (its cache misses on distinct URLs)."""

    def refuse(url: str) -> None:
        raise AssertionError(f"urlsplit was called for {url}")

    monkeypatch.setattr(original, "urlsplit", refuse)
    assert split_url("https://grafana.example.com:8443/d/1?orgId=2#panel") == (
        "https",
        "grafana.example.com:8443",
        "/d/1?orgId=2",
    )
    assert split_url("HTTP://grafana.example.com") == ("http", "grafana.example.com", "/")
