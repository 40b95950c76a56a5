"""Trusted token issuers: the one-issuer shorthand (COUNTERSIGN_ISSUER, AUDIENCE, JWKS_URL,
JWT_KEY_FILE) and the `issuers:` list of the config file, each with its keys, algorithms and
claim names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.config import values
from app.config.errors import INVALID, BadValueError, Report

PREFIX = "COUNTERSIGN_"
#: Asymmetric signature algorithms Countersign verifies. `none` and HS* are refused by design:
#: an HMAC "signed" with an issuer's public key is the classic forgery.
SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA")
#: The settings of the shorthand, which together make one issuer.
SHORTHAND = ("issuer", "audience", "jwks_url", "jwt_key_file")
#: CLAIM_* settings and the claim role each names.
CLAIM_KEYS = {
    "claim_email": "email",
    "claim_groups": "groups",
    "claim_amr": "amr",
    "claim_device_managed": "device_managed",
    "claim_device_tags": "device_tags",
}
_ISSUER_KEYS = ("issuer", "audience", "jwks_url", "key_file", "algorithms", "claims")


class ClaimNames(BaseModel):
    """Which token claims carry the email, groups, authentication methods and device posture."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str = "email"
    groups: str = "groups"
    amr: str = "amr"
    device_managed: str = "device_managed"
    device_tags: str = "device_tags"


class IssuerSettings(BaseModel):
    """One trusted token issuer, with its keys (JWKS URL or a static PEM key file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str
    audiences: tuple[str, ...]
    jwks_url: str | None = None
    key_file: Path | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    claims: ClaimNames = ClaimNames()
    #: Where it was configured, so key-loading errors can name it.
    origin: str = PREFIX + "ISSUER"


CLAIM_ROLES = tuple(ClaimNames.model_fields)


def algorithms(raw: object) -> tuple[str, ...]:
    """Signature algorithm names, from SUPPORTED_ALGORITHMS only."""
    names = values.text_list(raw)
    for name in names:
        if name.lower() == "none":
            raise BadValueError("'none' is refused: unsigned tokens are never accepted")
        if name.upper().startswith("HS"):
            raise BadValueError(f"{name} is refused: shared-secret algorithms are not accepted")
        if name not in SUPPORTED_ALGORITHMS:
            raise BadValueError(
                f"{values.shown(name)} is not supported; use {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    return tuple(dict.fromkeys(names))


def shorthand_issuer(
    bad: Report,
    settings: Mapping[str, Any],
    origins: Mapping[str, str | None],
    claims: Mapping[str, str],
) -> list[IssuerSettings]:
    """COUNTERSIGN_ISSUER/AUDIENCE/JWKS_URL/JWT_KEY_FILE make one issuer."""
    given = [key for key in SHORTHAND if origins[key] is not None]
    if not given or any(settings[key] is INVALID for key in given):
        return []
    named = origins["issuer"] or PREFIX + "ISSUER"
    if settings["issuer"] is None:
        bad(named, f"required when {origins[given[0]]} is set")
        return []
    if settings["audience"] is None:
        bad(PREFIX + "AUDIENCE", f"required when {named} is set")
        return []
    return _issuer(
        bad,
        where=named,
        key_where=origins["jwt_key_file"] or PREFIX + "JWT_KEY_FILE",
        issuer=settings["issuer"],
        audiences=settings["audience"],
        jwks_url=settings["jwks_url"],
        key_file=settings["jwt_key_file"],
        algorithms=settings["jwt_algorithms"],
        claims=claims,
    )


def _issuer(
    bad: Report,
    *,
    where: str,
    key_where: str,
    issuer: str,
    audiences: list[str],
    jwks_url: str | None,
    key_file: Path | None,
    algorithms: object,
    claims: Mapping[str, str],
) -> list[IssuerSettings]:
    if jwks_url is not None and key_file is not None:
        bad(where, "give a JWKS URL or a key file, not both")
        return []
    if jwks_url is None and key_file is None:
        bad(where, "needs a JWKS URL or a key file to verify its tokens")
        return []
    if key_file is not None and not key_file.is_file():
        bad(key_where, f"no such file: {key_file}")
        return []
    if algorithms is INVALID or len(claims) != len(CLAIM_KEYS):
        return []
    return [
        IssuerSettings(
            issuer=issuer,
            audiences=tuple(audiences),
            jwks_url=jwks_url,
            key_file=key_file,
            algorithms=algorithms,  # type: ignore[arg-type]  # parsed by `algorithms`
            claims=ClaimNames(**claims),
            origin=key_where if key_file is not None else where,
        )
    ]


def file_issuers(
    bad: Report, entries: object, *, in_file: str, claims: Mapping[str, str], algorithms: object
) -> list[IssuerSettings]:
    """The `issuers:` list of the config file; claims and algorithms default to the globals."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        bad(f"issuers {in_file}", "must be a list of issuers")
        return []
    result: list[IssuerSettings] = []
    for i, entry in enumerate(entries):
        result += _FileIssuer(bad, entry, f"issuers[{i}]", in_file).parse(claims, algorithms)
    return result


class _FileIssuer:
    """One entry of `issuers:`, every problem reported against its place in the file."""

    def __init__(self, bad: Report, entry: object, at: str, in_file: str) -> None:
        self._bad = bad
        self.entry = entry if isinstance(entry, dict) else {}
        self.valid = isinstance(entry, dict)
        self.at = at
        self.in_file = in_file
        self.failed = False

    def bad(self, key: str | None, problem: str) -> None:
        self._bad(
            f"{self.at}.{key} {self.in_file}" if key else f"{self.at} {self.in_file}", problem
        )
        self.failed = True

    def field(self, key: str, parse: Callable[[object], Any]) -> Any:
        if self.entry.get(key) is None:
            if key in ("issuer", "audience"):
                self.bad(key, "required")
            return None
        try:
            return parse(self.entry[key])
        except BadValueError as error:
            self.bad(key, str(error))
            return None

    def parse(self, claims: Mapping[str, str], default_algorithms: object) -> list[IssuerSettings]:
        if not self.valid:
            self.bad(None, "must be a mapping with issuer, audience and jwks_url")
            return []
        for key in self.entry:
            if key not in _ISSUER_KEYS:
                self.bad(str(key), "unknown key" + values.suggest(str(key), _ISSUER_KEYS))
        issuer = self.field("issuer", values.text)
        audiences = self.field("audience", values.text_list)
        jwks_url = self.field("jwks_url", values.key_url)
        key_file = self.field("key_file", values.path)
        own_algorithms = self.field("algorithms", algorithms)
        own_claims = self.claims(claims)
        if self.failed:
            return []
        return _issuer(
            self._bad,
            where=f"{self.at} {self.in_file}",
            key_where=f"{self.at}.key_file {self.in_file}",
            issuer=issuer,
            audiences=audiences,
            jwks_url=jwks_url,
            key_file=key_file,
            algorithms=own_algorithms if own_algorithms is not None else default_algorithms,
            claims=own_claims,
        )

    def claims(self, defaults: Mapping[str, str]) -> dict[str, str]:
        """The global claim names, with this issuer's own `claims:` over them."""
        own = dict(defaults)
        raw = self.entry.get("claims")
        if raw is not None and not isinstance(raw, dict):
            self.bad("claims", "must be a mapping such as {email: mail}")
        elif raw:
            for role, value in raw.items():
                if role not in CLAIM_ROLES:
                    self.bad(f"claims.{role}", f"unknown claim role; use {', '.join(CLAIM_ROLES)}")
                    continue
                try:
                    own[role] = values.text(value)
                except BadValueError as error:
                    self.bad(f"claims.{role}", str(error))
        return own


def check_duplicates(bad: Report, issuers: list[IssuerSettings]) -> None:
    """The same issuer twice would make routing by `iss` ambiguous."""
    seen: set[str] = set()
    for entry in issuers:
        if entry.issuer in seen:
            bad(entry.origin, f"issuer {values.shown(entry.issuer)} is configured twice")
        seen.add(entry.issuer)
