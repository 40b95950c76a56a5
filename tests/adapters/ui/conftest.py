"""Fixtures of the page tests: one Redis for the directory, a freshly built service per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapters.ui.site import Site
from tests.support.redis_server import RedisServerFactory


@pytest.fixture(scope="session")
def ui_redis_url(redis_server_factory: RedisServerFactory) -> str:
    """A private Redis for the page tests."""
    return redis_server_factory().url


@pytest.fixture
def site(tmp_path: Path, ui_redis_url: str) -> Site:
    """The service, wired by bootstrap, on an empty Redis."""
    return Site(tmp_path, ui_redis_url)
