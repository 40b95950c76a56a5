"""The webhook signature: HMAC-SHA256 over timestamp and body, refused when stale or altered."""

from __future__ import annotations

from app.core.notify import signature, verify

SECRET = b"whsec-test"
BODY = b'{"type":"request_submitted"}'
T = 1_714_990_000


def test_a_fresh_signature_verifies() -> None:
    """What the sender signs, the receiver accepts."""
    assert verify(SECRET, signature(SECRET, T, BODY), BODY, now=T + 10)


def test_the_header_names_the_timestamp() -> None:
    """`t=<unix>,v1=<hex>`."""
    header = signature(SECRET, T, BODY)
    assert header.startswith(f"t={T},v1=")
    assert len(header.split("v1=")[1]) == 64


def test_an_altered_body_is_refused() -> None:
    """One changed byte breaks the signature."""
    assert not verify(SECRET, signature(SECRET, T, BODY), BODY.replace(b"s", b"S"), now=T)


def test_a_replayed_delivery_is_refused() -> None:
    """A signature older than the tolerance window is refused."""
    assert not verify(SECRET, signature(SECRET, T, BODY), BODY, now=T + 301)


def test_another_secret_is_refused() -> None:
    """Only the shared secret signs."""
    assert not verify(b"other", signature(SECRET, T, BODY), BODY, now=T)


def test_a_forged_timestamp_is_refused() -> None:
    """Moving the timestamp forward invalidates the MAC."""
    header = signature(SECRET, T, BODY).replace(f"t={T}", f"t={T + 1000}")
    assert not verify(SECRET, header, BODY, now=T + 1000)


def test_a_malformed_header_is_refused() -> None:
    """Garbage is not an error, just a refusal."""
    assert not verify(SECRET, "nonsense", BODY, now=T)
