"""The pages' router: everything the UI serves, wired from the service's parts by bootstrap.

| route | page |
|---|---|
| `GET /` | to My access |
| `GET/POST /request?app=..&rd=..` | ask for access |
| `GET /request/<id>` (+ `status.json`), `POST /request/<id>/cancel` | follow a request |
| `GET /inbox`, `GET /inbox/<id>`, `POST /inbox/<id>/approve|deny` | review |
| `GET /access`, `POST /access/<grant>/end` | my access, end or revoke a grant |
| `GET/POST /access/<grant>/extend` | ask for more time on a live grant |
| `GET/POST /break-glass?app=..` | grant yourself access in an emergency |
| `GET /break-glass/reviews`, `POST /break-glass/<grant>/review` | judge break-glass uses |
| `GET /static/<name>` | CSS and the page script |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from app.adapters.step_up import StepUpLinks
from app.adapters.ui.access import access_router
from app.adapters.ui.approver import approver_router
from app.adapters.ui.break_glass import break_glass_router
from app.adapters.ui.deps import Ui
from app.adapters.ui.errors import page_route
from app.adapters.ui.render import Pages
from app.adapters.ui.requester import requester_router
from app.adapters.ui.session import Sessions
from app.adapters.ui.windows import extension_router
from app.config.settings import AccessSettings, IdentitySettings, ServerSettings
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.emergency import EmergencyService
from app.services.ports import Identify, ReadSignals


def _utc_now() -> datetime:
    return datetime.now(UTC)


def ui_router(
    *,
    server: ServerSettings,
    identity: IdentitySettings,
    access: AccessSettings,
    approvals: ApprovalService,
    policies: Callable[[], PolicySet],
    identify: Identify,
    signals: ReadSignals,
    is_safe_redirect: Callable[[str], bool],
    clock: Callable[[], datetime] = _utc_now,
    emergency: EmergencyService | None = None,
) -> APIRouter:
    """All the pages, for one process (break-glass pages when `emergency` is given)."""
    sessions = Sessions(
        identify=identify,
        cookie_name=identity.cookie_name,
        assertion_header=identity.assertion_header,
        max_token_bytes=identity.max_token_bytes,
        admin_groups=frozenset(access.admin_groups),
        login_url=server.login_url,
        public_url=server.public_url,
    )
    pages = Pages(base_path=sessions.base_path, clock=clock)
    ui = Ui(
        approvals=approvals,
        policies=policies,
        sessions=sessions,
        signals=signals,
        is_safe_redirect=is_safe_redirect,
        pages=pages,
        clock=clock,
        step_up=StepUpLinks(login_url=server.login_url, public_url=server.public_url),
    )
    route_class = page_route(pages, login_url=server.login_url)
    router = APIRouter(route_class=route_class, include_in_schema=False)

    @router.get("/")
    async def home() -> Response:
        return RedirectResponse(pages.href("/access"), status_code=302)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        return pages.static_response(name)

    router.include_router(requester_router(ui, route_class))
    router.include_router(approver_router(ui, route_class))
    router.include_router(access_router(ui, route_class))
    router.include_router(extension_router(ui, route_class))
    if emergency is not None:
        router.include_router(break_glass_router(ui, emergency, route_class))
    return router
