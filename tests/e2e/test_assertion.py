"""X-Countersign-Assertion through every shipped proxy configuration: the application receives
Countersign's signed assertion for itself, it verifies against Countersign's published JWKS
with the shipped example (deploy/examples/verify_assertion.py), it is useless at another
application, and a client-sent one never reaches the application."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from jose import jwt
from jose.exceptions import JWTError

from tests.support.countersign import RunningCountersign
from tests.support.gate import Gate
from tests.support.personas import ALICE, BOB, Tokens
from tests.support.proxies import DEPLOY, PUBLIC_HOST

pytestmark = pytest.mark.e2e

EXAMPLE = DEPLOY / "examples" / "verify_assertion.py"
HEADER = "X-Countersign-Assertion"
#: What a client might send: an unsigned token (alg none) naming BOB.
FORGED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IiLCJhdWQiOiJvcGVuIn0."


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_assertion", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture(scope="module")
def verifier_for(countersign: RunningCountersign) -> Callable[[str], Any]:
    """The shipped example's verifier for an application, fetching the JWKS from Countersign's
    own address (the public host, auth.example.com, does not resolve here)."""

    def make(application: str) -> Any:
        return example.AssertionVerifier(
            countersign.public_url,
            application,
            jwks_url=f"{countersign.base_url}/.well-known/jwks.json",
        )

    return make


def assertion_for(gate: Gate, host: str, token: str, target: str = "/") -> str:
    """The assertion the application received on an allowed request."""
    sent = gate.get(host, target, token=token)
    assert sent.status == 200, sent.response.text
    values = [v for k, v in sent.seen.headers if k.lower() == HEADER.lower()]
    assert len(values) == 1, sent.seen.headers
    return values[0]


def test_the_app_receives_an_assertion_that_verifies(
    gate: Gate, tokens: Tokens, verifier_for: Callable[[str], Any], countersign: RunningCountersign
) -> None:
    """ALICE reaches the open app with an assertion that the example verifies: signed by a key
    in Countersign's JWKS, aud `open`, iss PUBLIC_URL, unexpired, naming her."""
    token = assertion_for(gate, "open.example.com", tokens.alice)
    claims = verifier_for("open").verify(token)
    assert claims["aud"] == "open"
    assert claims["iss"] == countersign.public_url
    assert claims["email"] == ALICE[0]
    assert claims["groups"] == sorted(ALICE[1])
    assert claims["idp"] == f"{countersign.public_url}/dev"
    assert claims["sub"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]


def test_an_assertion_for_one_app_is_refused_by_another(
    gate: Gate, tokens: Tokens, verifier_for: Callable[[str], Any]
) -> None:
    """BOB's assertion from the admin console fails at the open app and the other way round:
    a token stolen from one application is useless at the next."""
    admin = assertion_for(gate, "admin.example.com", tokens.bob)
    opened = assertion_for(gate, "open.example.com", tokens.bob)
    assert verifier_for("admin").verify(admin)["email"] == BOB[0]
    assert verifier_for("open").verify(opened)["email"] == BOB[0]
    with pytest.raises(JWTError):
        verifier_for("open").verify(admin)
    with pytest.raises(JWTError):
        verifier_for("admin").verify(opened)


def test_repeated_requests_reuse_one_assertion(gate: Gate, tokens: Tokens) -> None:
    """Two requests in a row carry the same signed token: Countersign signs once per person
    and application, not per request."""
    first = assertion_for(gate, "open.example.com", tokens.alice, "/a")
    second = assertion_for(gate, "open.example.com", tokens.alice, "/b")
    assert first == second


@pytest.mark.parametrize("forged", [FORGED, "x"], ids=["alg-none", "junk"])
def test_a_client_sent_assertion_never_reaches_the_app(
    gate: Gate, tokens: Tokens, forged: str
) -> None:
    """ALICE sending her own X-Countersign-Assertion: the app gets only Countersign's."""
    sent = gate.get("open.example.com", "/", token=tokens.alice, headers={HEADER: forged})
    assert sent.status == 200, sent.response.text
    values = [v for k, v in sent.seen.headers if k.lower() == HEADER.lower()]
    assert len(values) == 1
    assert values[0] != forged
    assert jwt.get_unverified_claims(values[0])["email"] == ALICE[0]


def test_a_replayed_assertion_is_replaced_by_the_callers_own(
    gate: Gate, tokens: Tokens, verifier_for: Callable[[str], Any]
) -> None:
    """MALLORY replaying BOB's genuine assertion for the open app arrives as herself."""
    bobs = assertion_for(gate, "open.example.com", tokens.bob)
    sent = gate.get("open.example.com", "/", token=tokens.mallory, headers={HEADER: bobs})
    assert sent.status == 200, sent.response.text
    claims = verifier_for("open").verify(sent.seen.header(HEADER))
    assert claims["email"] == "mallory@example.com"


def test_no_assertion_reaches_the_app_without_a_person(gate: Gate) -> None:
    """An anonymous request to a bypassed path carries no assertion, and a forged one is
    removed."""
    sent = gate.get("open.example.com", "/healthz", headers={HEADER: FORGED})
    assert sent.status == 200, sent.response.text
    assert not sent.seen.has_header(HEADER)


def test_no_assertion_on_a_denied_answer(gate: Gate, tokens: Tokens) -> None:
    """ALICE denied the admin console gets no assertion back in the answer either."""
    sent = gate.get("admin.example.com", "/", token=tokens.alice)
    assert sent.status == 403
    assert HEADER.lower() not in {k.lower() for k in sent.response.headers}


def test_the_jwks_is_published_on_the_public_host(
    gate: Gate, countersign: RunningCountersign
) -> None:
    """Applications fetch the keys from PUBLIC_URL/.well-known/jwks.json through the proxy; the
    document holds public keys only."""
    sent = gate.get(PUBLIC_HOST, "/.well-known/jwks.json")
    assert sent.status == 200, sent.response.text
    keys = sent.response.json()["keys"]
    assert keys
    assert all("d" not in key for key in keys)
    direct = httpx.get(f"{countersign.base_url}/.well-known/jwks.json", trust_env=False)
    assert direct.json() == sent.response.json()


@pytest.mark.parametrize("proxy_name", ["nginx"])  # the command does not depend on the proxy
def test_the_example_runs_as_a_command(
    gate: Gate, tokens: Tokens, countersign: RunningCountersign, tmp_path: Path
) -> None:
    """`python verify_assertion.py PUBLIC_URL APP < token` exits 0 with the claims for the
    right application and 1 for another."""
    token = assertion_for(gate, "open.example.com", tokens.alice)
    jwks = ["--jwks-url", f"{countersign.base_url}/.well-known/jwks.json"]
    good = subprocess.run(
        [sys.executable, str(EXAMPLE), countersign.public_url, "open", *jwks],
        input=token, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert '"aud": "open"' in good.stdout
    bad = subprocess.run(
        [sys.executable, str(EXAMPLE), countersign.public_url, "admin", *jwks],
        input=token, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.startswith("invalid:")


#: A person in many groups with long names: about 6 KiB of groups, sent twice (the groups
#: header and the assertion, base64). Proxies' default response-header buffers are 4-8 KiB.
MANY_GROUPS = tuple(f"team-{n:03d}-platform-engineering-oncall" for n in range(150))


@pytest.fixture(scope="module")
def many_groups_token(countersign: RunningCountersign) -> str:
    """A dev token for CAROL, in 150 groups."""
    return countersign.mint(email="carol@example.com", groups=MANY_GROUPS)


def test_a_large_assertion_gets_through(
    gate: Gate, many_groups_token: str, verifier_for: Callable[[str], Any]
) -> None:
    """CAROL's 150 groups make a ~9 KiB assertion; every shipped proxy passes it whole."""
    token = assertion_for(gate, "open.example.com", many_groups_token)
    assert len(token) > 8_000
    assert verifier_for("open").verify(token)["groups"] == sorted(MANY_GROUPS)
