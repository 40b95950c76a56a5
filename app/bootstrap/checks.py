"""What `serve` checks and sets up once, before workers start, and the facts about this
instance that several parts are built from (its host, its session issuer, its keys)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.adapters.observability.capture import capture_problem
from app.adapters.sessions.keys import SessionKeys, keys_from_settings
from app.adapters.store.connection import connect_for
from app.adapters.store.durability import refusal
from app.config import Settings, SettingsError
from app.config.settings import RedisSettings
from app.core.paths import HostError, normalize_host
from app.core.policy.errors import PolicyCompileError
from app.services.policy_files import PolicyDirectoryError
from app.services.policy_repository import PolicyRepository


def public_host(public_url: str) -> str:
    """The host part of PUBLIC_URL, normalised."""
    netloc = public_url.split("://", 1)[1].split("/", 1)[0]
    try:
        return normalize_host(netloc)
    except HostError:
        return netloc.lower()


def session_issuer(public_url: str) -> str:
    """The `iss` of Countersign's own sessions: PUBLIC_URL."""
    return public_url.rstrip("/")


def session_keys(settings: Settings) -> SessionKeys | None:
    """Countersign's own signing keys (sessions, per-application assertions), or None:
    sessions off. Raises SettingsError in one line."""
    dev_data_dir = Path(settings.server.data_dir) if settings.dev.enabled else None
    return keys_from_settings(
        settings.sessions, dev_data_dir=dev_data_dir, oidc=settings.signin is not None
    )


def prepare_process(settings: Settings) -> str | None:
    """Checks and one-time set-up done by `serve` before workers start; a problem or None."""
    policy_dir = settings.policy.dir
    repository = PolicyRepository(Path(policy_dir))
    try:
        repository.load()
    except PolicyCompileError as exc:
        lines = "\n".join(str(e) for e in exc.errors)
        return f"the policy set in {policy_dir} is invalid:\n{lines}"
    except PolicyDirectoryError as exc:
        return f"cannot load policies: {exc} (COUNTERSIGN_POLICY_DIR)"
    except (OSError, ValueError) as exc:
        return f"cannot load policies from {policy_dir}: {exc}"
    if not settings.dev.enabled and not settings.identity.issuers and settings.signin is None:
        return (
            "nobody could sign in: set COUNTERSIGN_OIDC_ISSUER (sign-in through your provider) "
            "or COUNTERSIGN_ISSUER with COUNTERSIGN_JWKS_URL (tokens from an identity proxy), "
            "or COUNTERSIGN_DEV=1 to try Countersign out"
        )
    capture = settings.decisions.capture
    if capture is not None and (problem := capture_problem(capture)) is not None:
        return problem
    if settings.dev.enabled:
        from app.adapters.dev.issuer import DevIssuer  # noqa: PLC0415  (dev only)

        # Dev keys persist across restarts: tokens and sessions of an earlier run still work.
        DevIssuer.load_or_create(
            Path(settings.server.data_dir), public_url=settings.server.public_url
        )
    try:
        session_keys(settings)  # made once here (dev), before workers race to make it
    except SettingsError as exc:
        return str(exc)
    return asyncio.run(durability_refusal(settings.redis))


async def durability_refusal(settings: RedisSettings) -> str | None:
    """Why Redis cannot give COUNTERSIGN_DURABILITY (stops `serve` with that line), or None;
    None too when Redis does not answer yet: the service starts and keeps checking."""
    if settings.url is None:
        return None
    redis = connect_for(settings)
    try:
        wait = settings.durability_timeout + settings.timeout * 4
        return await refusal(redis, settings.durability, within=wait.total_seconds())
    finally:
        await redis.aclose()
