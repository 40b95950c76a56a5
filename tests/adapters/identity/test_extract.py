"""Finding the token: Bearer first, then the session cookie, then the assertion header."""

from __future__ import annotations

import pytest

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.extract import cookie_values, extract_token, headers_from_asgi

COOKIE = "countersign_session"
ALICE_TOKEN = "aaa.bbb.ccc"
BOB_TOKEN = "ddd.eee.fff"
MALLORY_TOKEN = "mmm.mmm.mmm"


def extract(
    headers: dict[str, str], *, assertion: str | None = None, limit: int = 16384
) -> str | None:
    return extract_token(headers, cookie_name=COOKIE, assertion_header=assertion, max_bytes=limit)


def problem(headers: dict[str, str], **options: object) -> TokenProblem:
    with pytest.raises(IdentityError) as caught:
        extract(headers, **options)  # type: ignore[arg-type]
    return caught.value.reason


def test_bearer_token_is_taken() -> None:
    """`Authorization: Bearer <token>` yields the token."""
    assert extract({"authorization": f"Bearer {ALICE_TOKEN}"}) == ALICE_TOKEN


def test_bearer_scheme_is_case_insensitive() -> None:
    """`bearer` and `BEARER` work as well (RFC 9110: schemes are case-insensitive)."""
    assert extract({"authorization": f"bEaReR   {ALICE_TOKEN} "}) == ALICE_TOKEN


def test_bearer_wins_over_the_cookie() -> None:
    """An explicit Bearer token is preferred to the session cookie."""
    headers = {"authorization": f"Bearer {ALICE_TOKEN}", "cookie": f"{COOKIE}={BOB_TOKEN}"}
    assert extract(headers) == ALICE_TOKEN


def test_bearer_with_two_tokens_is_malformed() -> None:
    """`Bearer a b` is refused, not truncated to one of them."""
    assert problem({"authorization": f"Bearer {ALICE_TOKEN} {MALLORY_TOKEN}"}) is (
        TokenProblem.MALFORMED
    )


def test_repeated_authorization_headers_are_malformed() -> None:
    """Two Authorization headers joined by the ASGI helper are refused."""
    headers = headers_from_asgi(
        [(b"authorization", b"Bearer " + ALICE_TOKEN.encode()), (b"authorization", b"Bearer x.y.z")]
    )
    assert problem(headers) is TokenProblem.MALFORMED


def test_empty_bearer_is_malformed() -> None:
    """`Bearer` with nothing after it is refused."""
    assert problem({"authorization": "Bearer "}) is TokenProblem.MALFORMED


def test_basic_credentials_belong_to_the_app() -> None:
    """Another scheme (Basic) is not ours: the cookie is used instead."""
    headers = {"authorization": "Basic YWxpY2U6cHc=", "cookie": f"{COOKIE}={ALICE_TOKEN}"}
    assert extract(headers) == ALICE_TOKEN


def test_cookie_is_found_among_others() -> None:
    """The session cookie is found with stray spaces, empty pairs and other cookies around."""
    header = f" theme=dark;;  {COOKIE} = {ALICE_TOKEN} ; novalue; other=1"
    assert extract({"cookie": header}) == ALICE_TOKEN


def test_quoted_cookie_value_is_unquoted() -> None:
    """A cookie value in double quotes is taken without them."""
    assert extract({"cookie": f'{COOKIE}="{ALICE_TOKEN}"'}) == ALICE_TOKEN


def test_cookie_name_must_match_exactly() -> None:
    """`x_countersign_session` is not `countersign_session`."""
    assert extract({"cookie": f"x_{COOKIE}={MALLORY_TOKEN}"}) is None


def test_identical_duplicate_cookies_are_accepted() -> None:
    """The same token twice (host and domain cookie) is one token."""
    assert extract({"cookie": f"{COOKIE}={ALICE_TOKEN}; {COOKIE}={ALICE_TOKEN}"}) == ALICE_TOKEN


def test_conflicting_duplicate_cookies_are_refused() -> None:
    """A second, different session cookie (planted from a sibling domain) is token-ambiguous."""
    header = f"{COOKIE}={MALLORY_TOKEN}; {COOKIE}={ALICE_TOKEN}"
    assert problem({"cookie": header}) is TokenProblem.AMBIGUOUS


def test_split_cookie_headers_are_joined() -> None:
    """HTTP/2 may send several Cookie headers; the helper joins them with '; '."""
    headers = headers_from_asgi(
        [(b"cookie", b"a=1"), (b"cookie", f"{COOKIE}={BOB_TOKEN}".encode())]
    )
    assert headers["cookie"] == f"a=1; {COOKIE}={BOB_TOKEN}"
    assert extract(headers) == BOB_TOKEN


def test_asgi_header_names_are_lower_cased() -> None:
    """Header names become lower-case; values are decoded as latin-1."""
    assert headers_from_asgi([(b"X-Thing", b"caf\xe9")]) == {"x-thing": "café"}


def test_assertion_header_is_used_last() -> None:
    """With no Bearer and no cookie, the configured assertion header is read."""
    headers = {"x-forwarded-access-token": ALICE_TOKEN}
    assert extract(headers, assertion="X-Forwarded-Access-Token") == ALICE_TOKEN


def test_assertion_header_is_ignored_when_not_configured() -> None:
    """Without ASSERTION_HEADER, a client-sent assertion header means nothing."""
    assert extract({"x-forwarded-access-token": MALLORY_TOKEN}) is None


def test_no_token_is_none() -> None:
    """A request with no credentials yields None, not an error."""
    assert extract({"cookie": "theme=dark"}) is None


def test_oversized_bearer_is_too_large() -> None:
    """A Bearer token over MAX_TOKEN_BYTES is token-too-large."""
    assert problem({"authorization": "Bearer " + "a" * 2000}, limit=1024) is TokenProblem.TOO_LARGE


def test_oversized_cookie_is_too_large() -> None:
    """A session cookie over MAX_TOKEN_BYTES is token-too-large."""
    assert problem({"cookie": f"{COOKIE}={'a' * 2000}"}, limit=1024) is TokenProblem.TOO_LARGE


def test_cookie_values_never_raises_on_junk() -> None:
    """The Cookie parser tolerates any text."""
    assert cookie_values(";=;==;\x00; a", COOKIE) == []
