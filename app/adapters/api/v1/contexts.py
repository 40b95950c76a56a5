"""The AccessContext of an API call about an application: the same signals as forward-auth
(client IP through trusted proxies only, country, device), so the policy that matches is the
one the proxy would apply; the host and path are the application's own, for the record."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from app.adapters.identity.extract import headers_from_asgi
from app.core.context import AccessContext, build_access_context
from app.core.policy.policy_set import PolicySet
from app.services.ports import ReadSignals
from app.services.principal import Principal


def api_access_context(
    request: Request,
    principal: Principal,
    application: str,
    *,
    policies: Callable[[], PolicySet],
    signals: ReadSignals,
) -> AccessContext:
    """The context `principal` (a person) asks from about `application`."""
    identity = principal.human()
    headers = headers_from_asgi(request.scope["headers"])
    peer = request.client.host if request.client else ""
    app = policies().applications.get(application)
    return build_access_context(
        host=app.hosts[0] if app else "",
        path=app.paths[0] if app and app.paths else "/",
        identity=identity,
        signals=signals(peer, headers, identity),
        user_agent=headers.get("user-agent", ""),
    )
