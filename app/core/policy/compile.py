"""Compile policy files into a PolicySet, collecting every error with its place.

This is the driver: it loads each file, hands it to the document compiler and checks what
only the whole set can show (an application id used twice, a host and path claimed twice).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile_approval import (
    APPROVAL_KEYS,
    APPROVER_KEYS,
    JUSTIFICATION_KEYS,
    REVIEWERS_NEED_KEYS,
)
from app.core.policy.compile_checks import Checker
from app.core.policy.compile_document import (
    APP_KEYS,
    APPLICATION_KEYS,
    POLICY_KEYS,
    compile_application,
)
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.model import Application
from app.core.policy.policy_set import PolicySet
from app.core.policy.source import Located, load_located
from app.core.selectors import Rule

__all__ = [
    "APPLICATION_KEYS",
    "APPROVAL_KEYS",
    "APPROVER_KEYS",
    "APP_KEYS",
    "JUSTIFICATION_KEYS",
    "POLICY_KEYS",
    "REVIEWERS_NEED_KEYS",
    "Source",
    "compile_policy_set",
]


@dataclass(frozen=True, slots=True)
class Source:
    """One policy file's name (as shown in errors) and text."""

    file: str
    text: str


def compile_policy_set(sources: Sequence[Source]) -> PolicySet:
    """Compile every file; raise PolicyCompileError with all errors if any file is wrong."""
    errors: list[PolicyError] = []
    rules: dict[Hashable, Rule] = {}  # equal selectors share one compiled Rule
    apps: list[Application] = []
    first_seen: dict[str, str] = {}
    routes: dict[tuple[str, str], str] = {}
    for source in sources:
        located, load_errors = load_located(source.file, source.text)
        errors.extend(load_errors)
        if located is None:
            continue
        app = compile_application(Checker(located, errors, rules))
        if app is None:
            continue
        if app.id in first_seen:
            errors.append(
                located.error(
                    "$.application.id",
                    PolicyErrorCode.POLICY_DUPLICATE_APPLICATION,
                    f"application id '{app.id}' is already used by {first_seen[app.id]}",
                )
            )
            continue
        first_seen[app.id] = source.file
        if _claim_routes(app, located, routes, errors):
            apps.append(app)
    if errors:
        raise PolicyCompileError(errors)
    return PolicySet.of(apps)


def _claim_routes(
    app: Application,
    located: Located,
    routes: dict[tuple[str, str], str],
    errors: list[PolicyError],
) -> bool:
    """Claim each (host, path) of `app`; False (reported) if another application holds one,
    since two owners of one route would make the match depend on file order."""
    clash = False
    for host in app.hosts:
        for path in app.paths:
            owner = routes.get((host, path))
            if owner is not None:
                clash = True
                errors.append(
                    located.error(
                        "$.application.hosts",
                        PolicyErrorCode.POLICY_CONFLICTING_ROUTE,
                        f"{host}{path} is already claimed by application '{owner}'",
                    )
                )
            routes.setdefault((host, path), app.id)
    return not clash
