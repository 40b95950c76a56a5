"""Session tokens: issued and verified round trip, the same person as the provider's token,
tampering refused, and the cookie's attributes."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from starlette.responses import Response

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.sessions.keys import SessionKeys
from app.adapters.sessions.manager import CookiePolicy, SessionManager
from app.adapters.sessions.tokens import SESSION_AUDIENCE
from app.core.approvals.person import Person
from tests.adapters.sessions.support import ALICE, IDP, PUBLIC_URL, T0, TTL, Replica, write_key


@pytest.fixture
def replica(tmp_path: Path) -> Replica:
    return Replica(SessionKeys.from_files([write_key(tmp_path / "key.pem")]))


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_session_round_trip_is_the_providers_person(replica: Replica) -> None:
    """ALICE's session verifies to (provider issuer, provider subject), with her amr and groups."""
    identity = asyncio.run(replica.verifier.verify(replica.sessions.issue(ALICE, sid="sid-1")))
    assert Person.of(identity) == Person(IDP, "u-alice")
    assert identity.email == "alice@example.com"
    assert identity.groups == frozenset({"engineers"})
    assert identity.amr == frozenset({"pwd", "mfa"})
    assert identity.claims["sid"] == "sid-1"
    assert identity.claims["auth_time"] == ALICE.auth_time


def test_session_claims_follow_the_design(replica: Replica) -> None:
    """iss is PUBLIC_URL, aud countersign-session, idp the provider, exp = iat + TTL exactly."""
    claims = claims_of(replica.sessions.issue(ALICE, sid="sid-1"))
    assert claims["iss"] == PUBLIC_URL
    assert claims["aud"] == SESSION_AUDIENCE
    assert (claims["sub"], claims["idp"]) == ("u-alice", IDP)
    assert claims["iat"] == int(T0)
    assert claims["exp"] == int(T0) + 12 * 3600


def test_extra_claims_never_override_the_sessions_own(replica: Replica) -> None:
    """Device posture rides along, but an extra `sub` or `idp` is ignored."""
    token = replica.sessions.issue(
        ALICE, sid="sid-1", claims={"device_managed": True, "sub": "u-bob", "idp": "https://evil"}
    )
    identity = asyncio.run(replica.verifier.verify(token))
    assert Person.of(identity) == Person(IDP, "u-alice")
    assert identity.claims["device_managed"] is True


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_tampered_session_is_refused(replica: Replica, part: int) -> None:
    """Changing one character of the header, the claims or the signature fails verification."""
    pieces = replica.sessions.issue(ALICE, sid="sid-1").split(".")
    if part == 1:
        claims = claims_of(".".join(pieces))
        claims["groups"] = ["countersign-admins"]
        pieces[1] = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    else:
        middle = len(pieces[part]) // 2
        flipped = "A" if pieces[part][middle] != "A" else "B"
        pieces[part] = pieces[part][:middle] + flipped + pieces[part][middle + 1 :]
    with pytest.raises(IdentityError):
        asyncio.run(replica.verifier.verify(".".join(pieces)))


def test_session_expires_after_the_ttl_and_is_never_extended(replica: Replica) -> None:
    """Past iat + TTL (plus leeway) the session is refused as expired."""
    token = replica.sessions.issue(ALICE, sid="sid-1")
    replica.clock.now = T0 + 12 * 3600 + 31
    with pytest.raises(IdentityError) as refused:
        asyncio.run(replica.verifier.verify(token))
    assert refused.value.reason is TokenProblem.EXPIRED


def test_cookie_is_httponly_lax_secure_and_lives_as_long_as_the_session(tmp_path: Path) -> None:
    """establish sets Path=/, HttpOnly, SameSite=Lax, Secure, Domain and Max-Age = TTL."""
    keys = SessionKeys.from_files([write_key(tmp_path / "key.pem")])
    base = Replica(keys)
    manager = SessionManager(
        keys=keys,
        revocations=base.revocations,
        issuer=PUBLIC_URL,
        cookie=CookiePolicy("countersign_session", ".example.com", secure=True),
        ttl=TTL,
        leeway=30.0,
        verify=base.verifier.verify,
        clock=base.clock,
    )
    response = Response()
    sid = manager.establish(response, ALICE)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("countersign_session=")
    for attribute in (
        "Domain=.example.com",
        "HttpOnly",
        "Max-Age=43200",
        "Path=/",
        "SameSite=lax",
        "Secure",
    ):
        assert attribute in cookie
    assert len(sid) == 22  # 128 bits, base64url
    token = cookie.split(";")[0].split("=", 1)[1]
    assert asyncio.run(base.verifier.verify(token)).claims["sid"] == sid
