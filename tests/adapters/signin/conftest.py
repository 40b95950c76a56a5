"""Fixtures of the sign-in tests: a real OpenID provider and a real Redis for this directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oidc_provider import OidcProvider, start_oidc_provider
from tests.support.redis_server import RedisServer, RedisServerFactory


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """oidc-provider-mock on a loopback port."""
    running = start_oidc_provider(tmp_path_factory.mktemp("oidc"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def redis(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for the module."""
    return redis_server_factory()
