"""Issuer keys over HTTP: fetched, cached, refreshed on an unknown kid at a bounded rate, and
kept while the IdP is down or answers junk. The JWKS is served by a real server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.verifier import JwtVerifier
from app.config import SettingsError, load_settings
from tests.adapters.identity.tokens import (
    ALICE,
    BOB,
    ISSUER,
    MALLORY,
    FakeClock,
    JwksServer,
    claims_for,
    ec_key,
    jwks_server,
    rsa_key,
)


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    with jwks_server() as server:
        server.serve({"keys": [rsa_key().public_jwk()]})
        yield server


def settings_for(url: str, **extra: str):  # type: ignore[no-untyped-def]
    return load_settings(
        {
            "COUNTERSIGN_ISSUER": ISSUER,
            "COUNTERSIGN_AUDIENCE": "countersign",
            "COUNTERSIGN_JWKS_URL": url,
            **extra,
        }
    )


def verifier_for(url: str, clock: FakeClock, client: httpx.AsyncClient, **hooks) -> JwtVerifier:  # type: ignore[no-untyped-def]
    return JwtVerifier.from_settings(
        settings_for(url).identity, clock=clock, client=client, **hooks
    )


async def problem(verifier: JwtVerifier, token: str) -> TokenProblem | None:
    try:
        await verifier.verify(token)
    except IdentityError as error:
        return error.reason
    return None


def test_keys_are_fetched_over_http(idp: JwksServer) -> None:
    """The first token makes one GET of the JWKS URL and then verifies."""
    clock = FakeClock()

    async def scenario() -> None:
        verifier = JwtVerifier.from_settings(settings_for(idp.url).identity, clock=clock)
        try:
            identity = await verifier.verify(rsa_key().sign(claims_for(ALICE, clock.now)))
        finally:
            await verifier.aclose()
        assert identity.email == "alice@example.com"

    asyncio.run(scenario())
    assert idp.requests == 1


def test_idp_down_keys_are_served_from_cache(idp: JwksServer) -> None:
    """Past the cache TTL with the IdP answering 500, tokens still verify with cached keys."""
    clock = FakeClock()

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            await verifier.verify(rsa_key().sign(claims_for(ALICE, clock.now)))
            idp.status = 500
            clock.advance(11 * 60)
            identity = await verifier.verify(rsa_key().sign(claims_for(BOB, clock.now)))
            assert identity.subject == "u-bob"

    asyncio.run(scenario())
    assert idp.requests == 2


def test_idp_unreachable_keys_are_served_from_cache() -> None:
    """With the IdP's server gone (connection refused), cached keys keep working."""
    clock = FakeClock()

    async def scenario() -> TokenProblem | None:
        async with httpx.AsyncClient() as client:
            with jwks_server() as short_lived:
                short_lived.serve({"keys": [rsa_key().public_jwk()]})
                verifier = verifier_for(short_lived.url, clock, client)
                await verifier.verify(rsa_key().sign(claims_for(ALICE, clock.now)))
            clock.advance(11 * 60)
            return await problem(verifier, rsa_key().sign(claims_for(BOB, clock.now)))

    assert asyncio.run(scenario()) is None


def test_junk_jwks_keeps_the_old_keys(idp: JwksServer) -> None:
    """A refresh answering junk is reported as failed and never replaces good keys."""
    clock, reports = FakeClock(), []

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(
                idp.url, clock, client, on_jwks_refresh=lambda i, ok: reports.append((i, ok))
            )
            await verifier.verify(rsa_key().sign(claims_for(ALICE, clock.now)))
            idp.status, idp.body = 200, b'{"keys": [{"kty": "RSA", "n": "AQAB"}], "junk": true}'
            clock.advance(11 * 60)
            assert await problem(verifier, rsa_key().sign(claims_for(BOB, clock.now))) is None

    asyncio.run(scenario())
    assert reports == [(ISSUER, True), (ISSUER, False)]


def test_html_error_page_keeps_the_old_keys(idp: JwksServer) -> None:
    """A 200 with an HTML body (a captive portal, a misrouted proxy) is junk too."""
    clock = FakeClock()

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            await verifier.verify(rsa_key().sign(claims_for(ALICE, clock.now)))
            idp.body = b"<html>maintenance</html>"
            clock.advance(11 * 60)
            assert await problem(verifier, rsa_key().sign(claims_for(BOB, clock.now))) is None

    asyncio.run(scenario())


def test_unknown_kid_triggers_exactly_one_refresh_within_the_interval(idp: JwksServer) -> None:
    """Three tokens with unknown kids inside JWKS_REFRESH_INTERVAL cause one extra fetch."""
    clock = FakeClock()

    async def scenario() -> list[TokenProblem | None]:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            await verifier.verify(rsa_key().sign(claims_for(ALICE, clock.now)))
            results = []
            for kid in ("k1", "k2", "k3"):
                clock.advance(5)
                token = rsa_key(kid, slot=1).sign(claims_for(MALLORY, clock.now))
                results.append(await problem(verifier, token))
            return results

    assert asyncio.run(scenario()) == [TokenProblem.KEY_UNKNOWN] * 3
    assert idp.requests == 2


def test_unknown_kid_refreshes_again_after_the_interval(idp: JwksServer) -> None:
    """Once JWKS_REFRESH_INTERVAL (30 s) has passed, an unknown kid may fetch again."""
    clock = FakeClock()

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            for _ in range(2):
                token = rsa_key("k9", slot=1).sign(claims_for(MALLORY, clock.now))
                assert await problem(verifier, token) is TokenProblem.KEY_UNKNOWN
                clock.advance(31)

    asyncio.run(scenario())
    assert idp.requests == 3  # first load, refresh for k9, refresh for k9 after 31 s


def test_concurrent_unknown_kids_share_one_fetch(idp: JwksServer) -> None:
    """Ten simultaneous tokens with an unknown kid wait on a single refresh."""
    clock = FakeClock()

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            await verifier.warm()
            tokens = [
                rsa_key("new", slot=1).sign(claims_for({**BOB, "n": i}, clock.now))
                for i in range(10)
            ]
            results = await asyncio.gather(*(problem(verifier, t) for t in tokens))
            assert set(results) == {TokenProblem.KEY_UNKNOWN}

    asyncio.run(scenario())
    assert idp.requests == 2


def test_rotated_key_is_picked_up_on_its_first_token(idp: JwksServer) -> None:
    """When the IdP publishes a new key, a token with its kid triggers a refresh and verifies."""
    clock, new_key = FakeClock(), ec_key("2024-05")

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            await verifier.warm()
            idp.serve({"keys": [rsa_key().public_jwk(), new_key.public_jwk()]})
            identity = await verifier.verify(new_key.sign(claims_for(BOB, clock.now)))
            assert identity.subject == "u-bob"

    asyncio.run(scenario())


def test_idp_down_from_the_start_is_jwks_unavailable(idp: JwksServer) -> None:
    """With no keys ever fetched, the answer is jwks-unavailable after a single attempt."""
    clock = FakeClock()
    idp.status = 503

    async def scenario() -> TokenProblem | None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            return await problem(verifier, rsa_key().sign(claims_for(ALICE, clock.now)))

    assert asyncio.run(scenario()) is TokenProblem.JWKS_UNAVAILABLE
    assert idp.requests == 1


def test_idp_back_after_an_outage_at_start_is_used(idp: JwksServer) -> None:
    """Once the IdP answers again and the refresh interval has passed, tokens verify."""
    clock = FakeClock()
    idp.status = 503

    async def scenario() -> TokenProblem | None:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(idp.url, clock, client)
            await problem(verifier, rsa_key().sign(claims_for(ALICE, clock.now)))
            idp.status = 200
            clock.advance(31)
            return await problem(verifier, rsa_key().sign(claims_for(ALICE, clock.now)))

    assert asyncio.run(scenario()) is None
    assert idp.requests == 2


def test_static_pem_key_file_issuer_verifies(tmp_path: Path) -> None:
    """COUNTERSIGN_JWT_KEY_FILE trusts a PEM public key with no HTTP at all."""
    clock, key = FakeClock(), ec_key(None)
    pem = tmp_path / "idp.pem"
    pem.write_bytes(key.public_pem())
    settings = load_settings(
        {
            "COUNTERSIGN_ISSUER": ISSUER,
            "COUNTERSIGN_AUDIENCE": "countersign",
            "COUNTERSIGN_JWT_KEY_FILE": str(pem),
        }
    )
    verifier = JwtVerifier.from_settings(settings.identity, clock=clock)
    identity = asyncio.run(verifier.verify(key.sign(claims_for(ALICE, clock.now))))
    assert identity.subject == "u-alice"


def test_private_key_file_is_refused(tmp_path: Path) -> None:
    """A private key given as JWT_KEY_FILE stops start-up with a line naming the variable."""
    pem = tmp_path / "idp.pem"
    pem.write_text(ec_key().private_pem())
    settings = load_settings(
        {
            "COUNTERSIGN_ISSUER": ISSUER,
            "COUNTERSIGN_AUDIENCE": "countersign",
            "COUNTERSIGN_JWT_KEY_FILE": str(pem),
        }
    )
    with pytest.raises(SettingsError, match=r"^COUNTERSIGN_JWT_KEY_FILE: .*private key"):
        JwtVerifier.from_settings(settings.identity)
