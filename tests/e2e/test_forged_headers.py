"""Headers a client forges never reach the application and never change the decision."""

from __future__ import annotations

import pytest

from tests.support.gate import Gate
from tests.support.personas import Tokens

pytestmark = pytest.mark.e2e

FORGED_IDENTITY = {
    "X-Auth-Request-User": "bob",
    "X-Auth-Request-Email": "bob@example.com",
    "X-Auth-Request-Groups": "admins",
    "Remote-User": "bob",
    "Remote-Email": "bob@example.com",
    "Remote-Groups": "admins",
}
#: Spellings that some application servers fold into the same variable as the real header.
FORGED_SPELLINGS = {
    name.replace("-", sep): value for name, value in FORGED_IDENTITY.items() for sep in "_."
}
#: Every way a peer has been told "the request was really for open.example.com/".
FORGED_FORWARDING = {
    "X-Forwarded-Host": "open.example.com",
    "X-Forwarded-Uri": "/",
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Prefix": "/",
    "X-Forwarded-Proto": "https",
    "X-Original-URL": "http://open.example.com/",
    "X-Original-URI": "/",
    "X-Original-Method": "GET",
    "X-Rewrite-URL": "/",
    "Forwarded": "host=open.example.com;proto=http",
}
IDENTITY_NAMES = frozenset(
    name.lower().replace("_", "-").replace(".", "-") for name in FORGED_IDENTITY
)


def _identity_headers(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [
        (k, v)
        for k, v in headers
        if k.lower().replace("_", "-").replace(".", "-") in IDENTITY_NAMES
    ]


def test_forged_identity_is_replaced_by_countersigns(gate: Gate, tokens: Tokens) -> None:
    """ALICE's forged identity headers are replaced by Countersign's values for ALICE."""
    seen = gate.get("open.example.com", "/", token=tokens.alice, headers=FORGED_IDENTITY).seen
    assert seen.header("X-Auth-Request-Email") == "alice@example.com"
    assert seen.header("X-Auth-Request-Groups") == "engineers"
    assert seen.header("X-Auth-Request-User") != "bob"


def test_forged_remote_headers_are_removed(gate: Gate, tokens: Tokens) -> None:
    """Remote-User/-Email/-Groups sent by the client never reach the backend."""
    seen = gate.get("open.example.com", "/", token=tokens.alice, headers=FORGED_IDENTITY).seen
    assert not seen.has_header("Remote-User")
    assert not seen.has_header("Remote-Email")
    assert not seen.has_header("Remote-Groups")


def test_identity_header_appears_once_after_forgery(gate: Gate, tokens: Tokens) -> None:
    """The backend gets exactly one copy of each identity header, never the client's too."""
    seen = gate.get("open.example.com", "/", token=tokens.alice, headers=FORGED_IDENTITY).seen
    names = [k.lower() for k, _ in _identity_headers(seen.headers)]
    assert sorted(names) == [
        "x-auth-request-email",
        "x-auth-request-groups",
        "x-auth-request-user",
    ]


def test_identity_spelled_with_underscores_or_dots_is_removed(gate: Gate, tokens: Tokens) -> None:
    """`X_Auth_Request_User` and `X.Auth.Request.User` from the client never reach the backend."""
    seen = gate.get("open.example.com", "/", token=tokens.alice, headers=FORGED_SPELLINGS).seen
    forged = [(k, v) for k, v in _identity_headers(seen.headers) if "-" not in k]
    assert forged == []


def test_forged_identity_does_not_open_a_denied_app(gate: Gate, tokens: Tokens) -> None:
    """ALICE claiming admin groups in headers is still denied, and the backend sees nothing."""
    sent = gate.get("admin.example.com", "/", token=tokens.alice, headers=FORGED_IDENTITY)
    assert sent.status == 403
    assert sent.arrived == ()


def test_forged_identity_does_not_sign_anyone_in(gate: Gate) -> None:
    """Identity headers without a token leave the caller anonymous (401)."""
    sent = gate.get("open.example.com", "/", headers=FORGED_IDENTITY)
    assert sent.status == 401
    assert sent.arrived == ()


def test_forged_forwarding_does_not_open_a_denied_app(gate: Gate, tokens: Tokens) -> None:
    """A request to the admin console dressed up as one for an open app stays denied."""
    sent = gate.get("admin.example.com", "/", token=tokens.alice, headers=FORGED_FORWARDING)
    assert sent.status == 403
    assert sent.arrived == ()


def test_forged_forwarding_does_not_open_a_stricter_path(gate: Gate, tokens: Tokens) -> None:
    """A request for /admin dressed up as one for / of the same host stays denied."""
    sent = gate.get(
        "open.example.com", "/admin/users", token=tokens.alice, headers=FORGED_FORWARDING
    )
    assert sent.status == 403
    assert sent.arrived == ()


def test_forged_forwarding_does_not_deny_an_allowed_request(gate: Gate, tokens: Tokens) -> None:
    """Forwarding headers pointing at the admin console do not lock ALICE out of an open app."""
    forged = {
        **FORGED_FORWARDING,
        "X-Forwarded-Host": "admin.example.com",
        "X-Original-URL": "http://admin.example.com/",
        "Forwarded": "host=admin.example.com;proto=http",
    }
    sent = gate.get("open.example.com", "/", token=tokens.alice, headers=forged)
    assert sent.status == 200
    assert len(sent.arrived) == 1


def test_forged_client_address_does_not_open_a_network_gated_app(
    gate: Gate, tokens: Tokens
) -> None:
    """ALICE claiming an office address in X-Forwarded-For/X-Real-IP is still denied."""
    sent = gate.get(
        "office.example.com",
        "/",
        token=tokens.alice,
        headers={
            "X-Forwarded-For": "10.1.2.3",
            "X-Real-IP": "10.1.2.3",
            "Forwarded": "for=10.1.2.3",
            "True-Client-IP": "10.1.2.3",
        },
    )
    assert sent.status == 403
    assert sent.arrived == ()
