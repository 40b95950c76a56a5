"""The API fuzzed from openapi/openapi.json with schemathesis, in-process: whatever a client
sends, as an admin or as an ordinary user, the answer is never a server error (5xx)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.adapters.dev.issuer import DevIssuer
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import ALICE, ERIN, GRAFANA_REASON, ROOT, Api, settings_for
from tests.support.redis_server import RedisServer

#: Examples per operation and caller; two callers over twelve operations stay well under a
#: minute on two cores.
EXAMPLES = 25

#: The checked-in document, not the one the service serves: the contract is the file.
schema = schemathesis.openapi.from_path(Path(ROOT, "openapi", "openapi.json"))


@dataclass
class Fuzzed:
    """The service under fuzzing and the tokens of its two callers."""

    app: Any
    admin: str
    user: str


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, server: RedisServer) -> Fuzzed:
    """The wired service with one pending request and one grant in it, behind an ASGI shim."""
    directory = tmp_path_factory.mktemp("fuzz")
    settings = settings_for(directory, server.url)
    assert prepare_process(settings) is None
    # Seeding runs on its own event loop, so through its own instance: the Redis connections of
    # the fuzzed one must belong to schemathesis' loop.
    seeder = Api(
        settings=settings,
        app=build(settings),
        issuer=DevIssuer.load(directory, public_url=settings.server.public_url),
        redis_url=server.url,
    )
    try:
        seeder.granted(ALICE)
        seeder.post(
            "/api/v1/access-requests",
            who=ERIN,
            json={"application": "db-console", "justification": "CHG-1 " + GRAFANA_REASON},
        )
    finally:
        seeder.loop.close()
    service = build(settings)

    async def shim(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # No lifespan (no sweeper or policy watcher in a test), and a loopback peer where the
        # test client says "testclient", as uvicorn would give.
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await service({**scope, "client": ("127.0.0.1", 50000)}, receive, send)

    return Fuzzed(app=shim, admin=seeder.token(ERIN), user=seeder.token(ALICE))


def check(case: Any, fuzzed: Fuzzed, token: str) -> None:
    response = case.call(
        app=fuzzed.app,
        base_url="http://testserver",
        headers={"authorization": f"Bearer {token}"},
    )
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_an_admin_never_meets_a_server_error(case: Any, fuzzed: Fuzzed) -> None:
    """ERIN, the admin, reaches every endpoint: no input answers 5xx."""
    check(case, fuzzed, fuzzed.admin)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_an_ordinary_user_never_meets_a_server_error(case: Any, fuzzed: Fuzzed) -> None:
    """ALICE, refused much of the API, still never sees a 5xx."""
    check(case, fuzzed, fuzzed.user)
