"""The `service_tokens:` list of the config file: the REST API's service tokens, by digest.

Only the SHA-256 of a token is configured; the token itself is shown once, by `countersign
token service`, and kept by the tool that uses it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from app.config import values
from app.config.errors import Report
from app.services.principal import SCOPES

#: What a service token may be called (it appears in the audit log as `token:<name>`).
SERVICE_TOKEN_NAME = values.NAME
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_KEYS = ("name", "sha256", "scopes")


class ServiceTokenSettings(BaseModel):
    """One service token of the REST API: its name, the SHA-256 of the token, and its scopes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str
    scopes: frozenset[str]


def file_service_tokens(
    bad: Report, entries: object, *, in_file: str
) -> tuple[ServiceTokenSettings, ...]:
    """Every token of `service_tokens:` (`{name, sha256, scopes}` each); names and tokens
    are unique."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        bad(f"service_tokens {in_file}", "must be a list of {name, sha256, scopes}")
        return ()
    tokens: list[ServiceTokenSettings] = []
    for i, entry in enumerate(entries):
        token = _file_service_token(bad, entry, f"service_tokens[{i}]", in_file)
        if token is None:
            continue
        for earlier in tokens:
            if earlier.name == token.name:
                bad(f"service_tokens[{i}].name {in_file}", f"{token.name!r} is used twice")
            if earlier.sha256 == token.sha256:
                bad(f"service_tokens[{i}].sha256 {in_file}", "the same token is listed twice")
        tokens.append(token)
    return tuple(tokens)


def _file_service_token(
    report: Report, entry: object, at: str, in_file: str
) -> ServiceTokenSettings | None:
    failed = False

    def bad(where: str, problem: str) -> None:
        nonlocal failed
        failed = True
        report(f"{where} {in_file}", problem)

    if not isinstance(entry, dict):
        bad(at, "must be a mapping with name, sha256 and scopes")
        return None
    for key in entry:
        if key not in _KEYS:
            bad(f"{at}.{key}", "unknown key" + values.suggest(str(key), _KEYS))
    name, digest, scopes = (entry.get(key) for key in _KEYS)
    if not isinstance(name, str) or not SERVICE_TOKEN_NAME.match(name):
        bad(f"{at}.name", "must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(digest, str) or not _SHA256_HEX.match(digest):
        bad(
            f"{at}.sha256",
            "must be the 64 hex digits of the token's SHA-256 (see `countersign token service`)",
        )
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        bad(f"{at}.scopes", f"must be a list of scopes: {', '.join(sorted(SCOPES))}")
    else:
        for scope in scopes:
            if scope not in SCOPES:
                bad(
                    f"{at}.scopes",
                    f"unknown scope {values.shown(scope)}{values.suggest(scope, SCOPES)}",
                )
    if failed or not (
        isinstance(name, str) and isinstance(digest, str) and isinstance(scopes, list)
    ):
        return None
    return ServiceTokenSettings(
        name=name, sha256=digest.lower(), scopes=frozenset(str(s) for s in scopes)
    )
