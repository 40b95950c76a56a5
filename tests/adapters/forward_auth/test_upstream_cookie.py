"""The Cookie an allow answer carries upstream: the client's, minus Countersign's session."""

from __future__ import annotations

import pytest

from app.adapters.forward_auth.upstream_cookie import upstream_cookie, without_session_cookie

SESSION = "countersign_session"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("countersign_session=T; theme=dark; csrftoken=abc", "theme=dark; csrftoken=abc"),
        ("theme=dark; countersign_session=T; csrftoken=abc", "theme=dark; csrftoken=abc"),
        ("theme=dark; csrftoken=abc; countersign_session=T", "theme=dark; csrftoken=abc"),
        ("countersign_session=T; theme=dark; countersign_session=U", "theme=dark"),
        ("theme=dark;  countersign_session = T ;csrftoken=abc", "theme=dark; csrftoken=abc"),
        ("my_countersign_session=x; countersign_session=T", "my_countersign_session=x"),
        ("countersign_session=T", ""),
        ("theme=dark", "theme=dark"),
    ],
)
def test_only_the_session_cookie_goes(header: str, kept: str) -> None:
    """Every copy of the session goes; the application's cookies stay, in order."""
    assert without_session_cookie(header, SESSION) == kept


def test_the_answer_carries_the_cleaned_cookie() -> None:
    """Traefik copies `cookie` from the allow answer onto the request."""
    headers = {"cookie": "countersign_session=T; theme=dark"}
    assert upstream_cookie(headers, SESSION) == [(b"cookie", b"theme=dark")]


@pytest.mark.parametrize("headers", [{}, {"cookie": ""}, {"cookie": "countersign_session=T"}])
def test_nothing_left_means_no_cookie_header(headers: dict[str, str]) -> None:
    """No `cookie` in the answer: the proxy then removes the request's Cookie altogether."""
    assert upstream_cookie(headers, SESSION) == []


def test_a_renamed_session_cookie_is_the_one_removed() -> None:
    """COUNTERSIGN_COOKIE_NAME=sso: `sso` goes, `countersign_session` is just a cookie."""
    headers = {"cookie": "sso=T; countersign_session=x"}
    assert upstream_cookie(headers, "sso") == [(b"cookie", b"countersign_session=x")]
