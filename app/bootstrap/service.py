"""The whole service for one process: its parts, the forward-auth handler in front, and the
FastAPI application behind it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from app.adapters.forward_auth.answers import Targets
from app.adapters.forward_auth.assertion import Assertions
from app.adapters.forward_auth.deny_page import DenyPage
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.observability.logs import configure_logging
from app.bootstrap.checks import public_host, session_issuer
from app.bootstrap.lifespan import lifespan_of
from app.bootstrap.parts import Parts, build_parts
from app.bootstrap.routes import api_app
from app.config import Settings, load_settings
from app.core.redirects import is_safe_redirect
from app.web import CountersignApp


def build(settings: Settings) -> CountersignApp:
    """The whole service for one process."""
    configure_logging(
        level=settings.logging.level,
        fmt=settings.logging.format,
        capture=settings.decisions.capture,
        claims=settings.decisions.claims,
    )
    parts = build_parts(settings)
    ours = public_host(settings.server.public_url)

    def safe(url: str) -> bool:
        return is_safe_redirect(url, policy_set=parts.repository.current, public_host=ours)

    api = api_app(parts, lifespan=lifespan_of(parts), safe=safe)
    return CountersignApp(forward_auth=forward_auth(parts), api=api)


def forward_auth(parts: Parts) -> ForwardAuth:
    """The forward-auth handler proxies call on every request."""
    settings = parts.settings
    return ForwardAuth(
        decisions=parts.decisions,
        memo=parts.memo,
        identify=parts.authenticator(),
        signals=parts.signals,
        is_trusted_peer=parts.signals.trusted.is_trusted,
        targets=Targets(
            settings.server.login_url,
            settings.server.public_url.rstrip("/") + "/request",
            session_cookie=settings.identity.cookie_name,
        ),
        # X-Countersign-Assertion on allow answers, signed with the session keys (none without).
        assertions=None
        if parts.signer is None
        else Assertions(
            parts.signer,
            issuer=session_issuer(settings.server.public_url),
            ttl=settings.sessions.assertion_ttl,
        ),
        # Denied browsers get the refusal page (why, and whom to ask) instead of a bare 403.
        deny_page=DenyPage(
            policies=parts.policies,
            public_url=settings.server.public_url,
            login_url=settings.server.login_url,
        ),
    )


def build_from_environment(environ: Mapping[str, str] | None = None) -> CountersignApp:
    """uvicorn's factory entry point: settings from the environment, then `build`."""
    return build(load_settings(os.environ if environ is None else environ))
