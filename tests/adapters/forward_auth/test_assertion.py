"""X-Countersign-Assertion: what it says, for whom, how long one signature is reused, and that
only an allow carries one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from jose import jwt
from jose.exceptions import JWTClaimsError, JWTError

from app.adapters.forward_auth.assertion import ASSERTION_HEADER, Assertions
from app.adapters.identity.keys import public_jwk
from app.adapters.sessions.tokens import SESSION_AUDIENCE
from app.config import SettingsError, load_settings
from app.core.context import Identity
from app.core.decision import Decision, Effect
from app.core.reasons import Reason
from tests.adapters.forward_auth.scenario import build, call, nginx, traefik

ISSUER = "https://auth.example.com"
IDP = "https://idp.example.com"
TTL = timedelta(minutes=5)
ALICE = Identity("alice-sub", "alice@example.com", frozenset({"engineers", "oncall"}), issuer=IDP)
BOB = Identity("bob-sub", "bob@example.com", frozenset({"sre", "sre-leads"}), issuer=IDP)
ALLOW_GRAFANA = Decision(Effect.ALLOW, (Reason.GROUPS_OK,), application="grafana")


class TestSigner:
    """An ES256 key made for the test, signing with python-jose (the Signer protocol)."""

    __test__ = False

    def __init__(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        self.kid = uuid.uuid4().hex
        self._pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._public = public_jwk(key.public_key(), kid=self.kid) | {"alg": "ES256", "use": "sig"}
        self.broken = False

    def sign(self, claims: Mapping[str, Any]) -> str:
        if self.broken:
            raise OSError("the key file is gone")
        token: str = jwt.encode(
            dict(claims), self._pem, algorithm="ES256", headers={"kid": self.kid}
        )
        return token

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._public]}


class Clock:
    """Wall-clock seconds that a test moves by hand."""

    def __init__(self) -> None:
        # Starts at the real time: python-jose checks `exp` against its own clock.
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make(*, size: int = 100) -> tuple[Assertions, TestSigner, Clock]:
    signer, clock = TestSigner(), Clock()
    return Assertions(signer, issuer=ISSUER + "/", ttl=TTL, size=size, clock=clock), signer, clock


def token_of(header: tuple[bytes, bytes]) -> str:
    name, value = header
    assert name == ASSERTION_HEADER
    return value.decode()


def verify(token: str, signer: TestSigner, *, audience: str, now: float) -> dict[str, Any]:
    """What an application does: signature against the JWKS, aud, iss and exp."""
    claims: dict[str, Any] = jwt.decode(
        token,
        signer.jwks(),
        algorithms=["ES256"],
        audience=audience,
        issuer=ISSUER,
        options={"leeway": 0},
    )
    assert claims["iat"] <= now < claims["exp"]
    return claims


# --- what it says -----------------------------------------------------------------------------


def test_claims_name_the_person_the_application_and_countersign() -> None:
    """ALICE's assertion for grafana carries iss, aud, sub, idp, email, sorted groups, a jti and
    a five-minute life, signed under the current key's kid."""
    assertions, signer, clock = make()
    token = token_of(assertions.header(ALICE, "grafana"))
    claims = verify(token, signer, audience="grafana", now=clock.now)
    assert claims == {
        "iss": ISSUER,
        "aud": "grafana",
        "sub": "alice-sub",
        "idp": IDP,
        "email": "alice@example.com",
        "groups": ["engineers", "oncall"],
        "iat": int(clock.now),
        "exp": int(clock.now) + 300,
        "jti": claims["jti"],
    }
    assert len(claims["jti"]) >= 16
    assert jwt.get_unverified_header(token)["kid"] == signer.kid


def test_a_person_without_email_gets_no_email_claim() -> None:
    """A service identity with no e-mail: the claim is left out, not null."""
    assertions, signer, clock = make()
    robot = Identity("svc-42", None, frozenset(), issuer=IDP)
    token = token_of(assertions.header(robot, "wiki"))
    claims = verify(token, signer, audience="wiki", now=clock.now)
    assert "email" not in claims
    assert claims["groups"] == []


def test_an_assertion_for_one_application_is_refused_by_another() -> None:
    """A token taken from grafana is useless at the wiki: its aud is grafana."""
    assertions, signer, clock = make()
    token = token_of(assertions.header(ALICE, "grafana"))
    with pytest.raises(JWTClaimsError):
        verify(token, signer, audience="wiki", now=clock.now)


def test_each_application_gets_its_own_assertion() -> None:
    """ALICE at grafana and at the wiki: two tokens, each with its own aud."""
    assertions, signer, clock = make()
    grafana = token_of(assertions.header(ALICE, "grafana"))
    wiki = token_of(assertions.header(ALICE, "wiki"))
    assert grafana != wiki
    assert verify(wiki, signer, audience="wiki", now=clock.now)["aud"] == "wiki"


def test_a_key_outside_the_jwks_does_not_verify() -> None:
    """An assertion signed by another key (another deployment) fails the signature check."""
    assertions, _, clock = make()
    token = token_of(assertions.header(ALICE, "grafana"))
    with pytest.raises(JWTError):
        verify(token, TestSigner(), audience="grafana", now=clock.now)


# --- one signature, reused exactly ----------------------------------------------------------


def test_a_repeat_request_reuses_the_signed_assertion() -> None:
    """A hundred allows for ALICE at grafana cost one signature and send one token."""
    assertions, _, clock = make()
    first = assertions.header(ALICE, "grafana")
    for _ in range(100):
        clock.now += 1
        assert assertions.header(ALICE, "grafana") is first
    assert assertions.signatures == 1


def test_an_equal_identity_from_another_token_shares_the_assertion() -> None:
    """A new token for the same person with the same claims (another Identity object) gets
    the same assertion: what it says is all that keys it."""
    assertions, _, _ = make()
    again = Identity(
        "alice-sub", "alice@example.com", frozenset({"oncall", "engineers"}), issuer=IDP
    )
    assert assertions.header(ALICE, "grafana") is assertions.header(again, "grafana")


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(
            Identity("alice-sub", "alice@example.com", frozenset({"engineers"}), issuer=IDP),
            id="groups",
        ),
        pytest.param(
            Identity("alice-sub", "alice@corp.example", ALICE.groups, issuer=IDP), id="email"
        ),
        pytest.param(
            Identity(
                "alice-sub", "alice@example.com", ALICE.groups, issuer="https://other.example"
            ),
            id="idp",
        ),
        pytest.param(
            Identity("alice-2", "alice@example.com", ALICE.groups, issuer=IDP), id="subject"
        ),
    ],
)
def test_a_change_in_what_it_says_signs_a_new_assertion(changed: Identity) -> None:
    """ALICE leaving the oncall group (or changing e-mail, provider or subject) gets a new token
    saying so at once, not the cached one."""
    assertions, signer, clock = make()
    before = token_of(assertions.header(ALICE, "grafana"))
    after = token_of(assertions.header(changed, "grafana"))
    assert after != before
    claims = verify(after, signer, audience="grafana", now=clock.now)
    assert (claims["idp"], claims["sub"], claims["email"], set(claims["groups"])) == (
        changed.issuer,
        changed.subject,
        changed.email,
        set(changed.groups),
    )


def test_it_is_signed_again_when_a_quarter_of_its_life_is_left() -> None:
    """Reused until 75 s before exp (TTL 5 m), then replaced by a fresh one."""
    assertions, signer, clock = make()
    first = token_of(assertions.header(ALICE, "grafana"))
    exp = verify(first, signer, audience="grafana", now=clock.now)["exp"]
    clock.now = exp - 75 - 0.001
    assert token_of(assertions.header(ALICE, "grafana")) == first
    clock.now = exp - 75
    second = token_of(assertions.header(ALICE, "grafana"))
    assert second != first
    assert verify(second, signer, audience="grafana", now=clock.now)["exp"] == int(clock.now) + 300
    assert assertions.signatures == 2


@given(steps=st.lists(st.floats(min_value=0, max_value=400), min_size=1, max_size=30))
def test_the_cache_never_serves_an_assertion_at_or_past_its_exp(steps: list[float]) -> None:
    """Whatever the pace of requests, each assertion handed out is valid at that moment, with
    at least a quarter of its life left."""
    assertions, _, clock = make()
    for step in steps:
        clock.now += step
        claims = jwt.get_unverified_claims(token_of(assertions.header(ALICE, "grafana")))
        assert claims["exp"] - clock.now > 300 * 0.25 - 1
        assert claims["iat"] <= clock.now


def test_the_cache_is_bounded() -> None:
    """Thousands of people through a cache of 50 keep at most 50 assertions."""
    assertions, _, _ = make(size=50)
    for n in range(2_000):
        assertions.header(Identity(f"user-{n}", None, issuer=IDP), "grafana")
        assert len(assertions) <= 50
    assert assertions.header(Identity("user-1999", None, issuer=IDP), "grafana")


def test_each_signature_has_its_own_jti() -> None:
    """Re-signed assertions never repeat an id."""
    assertions, _, clock = make()
    seen = set()
    for _ in range(5):
        seen.add(jwt.get_unverified_claims(token_of(assertions.header(ALICE, "grafana")))["jti"])
        clock.now += 300
    assert len(seen) == 5


# --- only on an allow -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "decision",
    [
        Decision(Effect.DENY, (Reason.NO_POLICY_MATCHED,), application="grafana"),
        Decision(Effect.NEEDS_APPROVAL, (Reason.GRANT_MISSING,), application="grafana"),
        Decision(Effect.UNAUTHENTICATED, (Reason.USER_UNAUTHENTICATED,), application="grafana"),
    ],
    ids=lambda d: d.effect.value,
)
def test_no_assertion_on_an_answer_that_is_not_an_allow(decision: Decision) -> None:
    """Deny, needs approval and unauthenticated answers carry nothing and sign nothing."""
    assertions, _, _ = make()
    assert assertions.attach(decision, ALICE, ()) == (decision, ())
    assert assertions.signatures == 0


def test_no_assertion_for_an_allow_without_a_person() -> None:
    """A bypassed path with nobody signed in: there is no one to vouch for."""
    assertions, _, _ = make()
    assert assertions.attach(ALLOW_GRAFANA, None, ()) == (ALLOW_GRAFANA, ())


def test_an_unsigned_allow_fails_closed() -> None:
    """When the key cannot sign, the allow becomes the internal-error deny, never an allow
    without its assertion."""
    assertions, signer, _ = make()
    signer.broken = True
    decision, headers = assertions.attach(ALLOW_GRAFANA, ALICE, ((b"x-auth-request-user", b"a"),))
    assert decision.effect is Effect.DENY
    assert decision.reasons == (Reason.INTERNAL_ERROR,)
    assert headers == ()


def test_an_application_named_like_the_session_audience_gets_no_assertion() -> None:
    """An application whose id is the sessions' audience would receive a token Countersign
    accepts as a session: the allow fails closed instead."""
    assertions, _, _ = make()
    allow = Decision(Effect.ALLOW, (Reason.GROUPS_OK,), application=SESSION_AUDIENCE)
    decision, headers = assertions.attach(allow, ALICE, ())
    assert decision.reasons == (Reason.INTERNAL_ERROR,)
    assert headers == ()
    assert assertions.signatures == 0


# --- through the handler --------------------------------------------------------------------


def test_the_handler_adds_the_assertion_to_an_allow_only() -> None:
    """BOB allowed on grafana gets a grafana assertion; MALLORY's block and ALICE's approval
    redirect carry none."""
    handler, _, _ = build()
    assertions, signer, clock = make()
    handler.checker.assertions = assertions
    url = "https://grafana.example.com/d/1"
    allowed = call(handler, "/auth/traefik", traefik(url, "bob-token"))
    assert allowed.status_code == 200
    claims = verify(
        allowed.headers["x-countersign-assertion"], signer, audience="grafana", now=clock.now
    )
    assert claims["sub"] == "bob"
    for token, status in (("mallory-token", 403), ("alice-token", 302)):
        answer = call(
            handler, "/auth/nginx" if status == 403 else "/auth/traefik", traefik(url, token)
        )
        assert answer.status_code == status
        assert "x-countersign-assertion" not in answer.headers


def test_the_handler_sends_no_assertion_on_a_bypass_without_identity() -> None:
    """The bypassed health path, anonymous: 200 with no assertion."""
    handler, _, _ = build()
    handler.checker.assertions, _, _ = make()
    answer = call(handler, "/auth/nginx", nginx("https://grafana.example.com/healthz"))
    assert answer.status_code == 200
    assert "x-countersign-assertion" not in answer.headers


def test_the_handler_answers_503_when_it_cannot_sign() -> None:
    """A broken key: the proxy gets 503 (cannot decide), the application nothing."""
    handler, _, _ = build()
    assertions, signer, _ = make()
    signer.broken = True
    handler.checker.assertions = assertions
    answer = call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "bob-token"))
    assert answer.status_code == 503
    assert "x-auth-request-user" not in answer.headers


# --- setting --------------------------------------------------------------------------------


def test_assertion_ttl_defaults_to_five_minutes() -> None:
    """COUNTERSIGN_ASSERTION_TTL unset: 5 m."""
    assert load_settings({}).sessions.assertion_ttl == timedelta(minutes=5)


@pytest.mark.parametrize("value", ["5s", "2h", "soon"])
def test_assertion_ttl_outside_10s_to_1h_stops_start_up(value: str) -> None:
    """A lifetime too short to reuse or too long to be short is refused at start."""
    with pytest.raises(SettingsError, match="COUNTERSIGN_ASSERTION_TTL"):
        load_settings({"COUNTERSIGN_ASSERTION_TTL": value})
