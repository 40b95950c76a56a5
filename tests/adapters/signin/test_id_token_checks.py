"""The callback's checks of the ID token, against a provider played with httpx.MockTransport
(discovery, a one-key JWKS without kid, and a token endpoint answering whatever the test
signed): every bad token ends in a SignInError, never a SignIn."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from app.adapters.sessions.contract import SignIn
from app.adapters.signin.errors import SignInError, SignInProblem
from app.adapters.signin.flows import PendingSignIn
from app.adapters.signin.relying_party import RelyingParty, at_hash
from app.config.issuers import ClaimNames
from app.config.sessions import OidcSettings
from tests.adapters.identity.tokens import T0, FakeClock, rsa_key, unsigned

ISSUER = "https://idp.example.com"
CLIENT = "countersign"
NONCE = "n-0123456789"
ACCESS = "access-token-1"
KEY = rsa_key(kid=None)
OTHER_KEY = rsa_key(kid=None, slot=1)
PENDING = PendingSignIn(
    nonce=NONCE,
    code_verifier="v" * 64,
    binding="b",
    rd="https://wiki.example.com/",
    started_at=int(T0),
)


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "u-alice",
        "email": "alice@example.com",
        "groups": ["engineers"],
        "iat": int(T0),
        "exp": int(T0) + 300,
        "auth_time": int(T0) - 10,
        "nonce": NONCE,
        "at_hash": at_hash(ACCESS, "RS256"),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def provider(
    id_token: str | None, *, token_status: int = 200, token_body: bytes | None = None
) -> httpx.MockTransport:
    """The provider, answering the token request with `id_token` (or `token_body`)."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [KEY.public_jwk()]})
        if path == "/token":
            if token_body is not None:
                return httpx.Response(token_status, content=token_body)
            body = {"access_token": ACCESS, "token_type": "Bearer", "id_token": id_token}
            return httpx.Response(token_status, json={k: v for k, v in body.items() if v})
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def complete(
    transport: httpx.MockTransport, pending: PendingSignIn = PENDING, **settings: Any
) -> SignIn:
    party = RelyingParty.build(
        OidcSettings(issuer=ISSUER, client_id=CLIENT, **settings),
        public_url="https://auth.example.com",
        claims=ClaimNames(),
        leeway=30,
        jwks_cache_ttl=600,
        jwks_refresh_interval=30,
        clock=FakeClock(),
        transport=transport,
    )

    async def go() -> SignIn:
        try:
            return await party.complete(code="c", pending=pending)
        finally:
            await party.aclose()

    return asyncio.run(go())


def refused(
    transport: httpx.MockTransport, pending: PendingSignIn = PENDING, **settings: Any
) -> SignInError:
    with pytest.raises(SignInError) as caught:
        complete(transport, pending, **settings)
    return caught.value


def test_good_token_gives_the_person() -> None:
    """A token signed by the provider's one kid-less key, for us, with our nonce: ALICE."""
    sign_in = complete(provider(KEY.sign(claims())))
    assert (sign_in.issuer, sign_in.subject) == (ISSUER, "u-alice")
    assert sign_in.groups == frozenset({"engineers"})
    assert sign_in.auth_time == int(T0) - 10


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (KEY.sign(claims(iss="https://other.example.com")), "token-issuer-unknown"),
        (KEY.sign(claims(aud="someone-else")), "token-audience-invalid"),
        (KEY.sign(claims(exp=int(T0) - 120)), "token-expired"),
        (unsigned(claims()), "token-alg-not-allowed"),
        (OTHER_KEY.sign(claims()), "token-signature-invalid"),
        (KEY.sign(claims(aud=[CLIENT, "other"], azp="other")), "azp"),
    ],
    ids=["other-issuer", "other-audience", "expired", "alg-none", "other-key", "azp"],
)
def test_bad_id_token_is_refused(token: str, detail: str) -> None:
    """ID tokens from another issuer or audience, expired, unsigned or forged: 502, no person."""
    error = refused(provider(token))
    assert error.problem is SignInProblem.ID_TOKEN_INVALID
    assert error.detail == detail
    assert error.problem.status == 502


def test_nonce_of_another_sign_in_is_refused() -> None:
    """A token minted for another flow's nonce is refused."""
    assert (
        refused(provider(KEY.sign(claims(nonce="other")))).problem is SignInProblem.NONCE_MISMATCH
    )


def test_at_hash_of_another_access_token_is_refused() -> None:
    """`at_hash` must match the access token the provider sent with it."""
    token = KEY.sign(claims(at_hash=at_hash("other", "RS256")))
    assert refused(provider(token)).problem is SignInProblem.AT_HASH_MISMATCH


def test_missing_id_token_is_refused() -> None:
    """A token answer without an ID token is provider trouble."""
    assert refused(provider(None)).problem is SignInProblem.ID_TOKEN_MISSING


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (200, b"<html>hi</html>", SignInProblem.PROVIDER_BAD_ANSWER),
        (500, b"oops", SignInProblem.PROVIDER_BAD_ANSWER),
        (400, json.dumps({"error": "invalid_grant"}).encode(), SignInProblem.CODE_REJECTED),
        (401, json.dumps({"error": "invalid_client"}).encode(), SignInProblem.PROVIDER_FAILED),
    ],
    ids=["junk", "server-error", "invalid-grant", "invalid-client"],
)
def test_token_endpoint_trouble_is_refused(
    status: int, body: bytes, problem: SignInProblem
) -> None:
    """Junk, 5xx and OAuth errors from the token endpoint never give a person."""
    assert refused(provider(None, token_status=status, token_body=body)).problem is problem


def test_step_up_needs_a_fresh_authentication() -> None:
    """prompt=login: an auth_time from before the flow started is refused."""
    pending = PendingSignIn(
        nonce=NONCE, code_verifier="v" * 64, binding="b", rd="/", started_at=int(T0), prompt="login"
    )
    token = KEY.sign(claims(auth_time=int(T0) - 3600))
    assert refused(provider(token), pending).problem is SignInProblem.AUTH_NOT_FRESH


def test_step_up_mfa_needs_the_acr_asked_for() -> None:
    """mfa=1 with OIDC_ACR_VALUES: a token without that acr is refused."""
    pending = PendingSignIn(
        nonce=NONCE, code_verifier="v" * 64, binding="b", rd="/", started_at=int(T0), mfa=True
    )
    error = refused(provider(KEY.sign(claims(acr="pwd"))), pending, acr_values="mfa")
    assert error.problem is SignInProblem.ACR_NOT_SATISFIED
