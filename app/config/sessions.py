"""Countersign's own sessions (signing keys, lifetime, cookie domain, per-application
assertions) and sign-in through an OpenID Connect provider (COUNTERSIGN_OIDC_*)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from app.config import values
from app.config.errors import INVALID, BadValueError, Report

PREFIX = "COUNTERSIGN_"
#: The OIDC_* settings, which together make `OidcSettings`.
OIDC_KEYS = (
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_scopes",
    "oidc_groups_claim",
    "oidc_groups_from",
    "oidc_acr_values",
    "oidc_algorithms",
)
#: Short by design (a stolen assertion works until it expires); at least 10s so reuse pays.
assertion_ttl = values.bounded_duration(timedelta(seconds=10), timedelta(hours=1))


class SessionSettings(BaseModel):
    """Countersign's own sessions, read by the session keys, the session manager and the
    per-application assertions of allow answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: PEM EC P-256 private keys: the first signs, all verify. None: dev key or sessions off.
    key_file: tuple[Path, ...] | None
    ttl: timedelta
    cookie_domain: str | None
    assertion_ttl: timedelta


class OidcSettings(BaseModel):
    """Sign-in through an OpenID Connect provider (authorization code + PKCE).

    The redirect URI registered at the provider is PUBLIC_URL + `/login/callback`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str
    client_id: str
    #: None: a public client, authenticated by PKCE alone.
    client_secret: SecretStr | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    groups_claim: str = "groups"
    groups_from: Literal["id_token", "userinfo"] = "id_token"
    #: Sent as `acr_values` when a step-up sign-in asks for MFA (`/login?mfa=1`).
    acr_values: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")


def scopes(raw: object) -> tuple[str, ...]:
    """OAuth scopes, separated by spaces or commas; `openid` must be one of them."""
    words = values.token_words(raw)
    if "openid" not in words:
        raise BadValueError("must include openid")
    return words


def oidc(
    bad: Report, settings: Mapping[str, Any], origins: Mapping[str, str | None]
) -> OidcSettings | None:
    """COUNTERSIGN_OIDC_*: one provider, on when OIDC_ISSUER is set."""
    issuer_where = origins["oidc_issuer"] or PREFIX + "OIDC_ISSUER"
    if settings["oidc_issuer"] is None:
        for key in ("oidc_client_id", "oidc_client_secret", "oidc_acr_values"):
            if origins[key] is not None:
                bad(issuer_where, f"required when {origins[key]} is set")
                return None
        return None
    if settings["oidc_client_id"] is None:
        bad(PREFIX + "OIDC_CLIENT_ID", f"required when {issuer_where} is set")
        return None
    if any(settings[key] is INVALID for key in OIDC_KEYS):
        return None
    return OidcSettings(**{key.removeprefix("oidc_"): settings[key] for key in OIDC_KEYS})
