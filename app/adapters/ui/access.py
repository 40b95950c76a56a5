"""My access: the viewer's active grants and open requests, with "end now"; approvers and
admins also see, and may revoke, the active grants of the applications they answer for."""

# FastAPI reads the route annotations at run time, and they name `signed`, a local alias of
# the sign-in dependency: so no `from __future__ import annotations` here.

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from app.adapters.ui.deps import Ui
from app.adapters.ui.forms import read_post, text_field
from app.adapters.ui.session import Viewer
from app.core.approvals import RequestStatus

LISTED = 100


def access_router(ui: Ui, route_class: type) -> APIRouter:
    """GET /access and POST /access/<grant id>/end."""
    router = APIRouter(route_class=route_class, include_in_schema=False)
    signed = Annotated[Viewer, Depends(ui.sessions.require)]

    @router.get("/access")
    async def my_access(viewer: signed) -> Response:
        principal = viewer.principal
        mine = await ui.approvals.list_grants(principal, mine=True, active=True, limit=LISTED)
        waiting = await ui.approvals.list_requests(
            principal, mine=True, status=RequestStatus.PENDING, limit=LISTED
        )
        others = []
        oversees = ui.approves_anything(viewer)
        if oversees:
            page = await ui.approvals.list_grants(principal, active=True, limit=LISTED)
            others = [g for g in page.items if not g.held_by(viewer.identity)]
        now = ui.clock()
        return ui.pages.render(
            "access.html",
            viewer=viewer,
            mine=[(g, ui.application_name(g.application)) for g in mine.items],
            waiting=[
                (r, ui.application_name(r.application)) for r in waiting.items if now < r.expires_at
            ],
            others=[(g, ui.application_name(g.application)) for g in others],
            oversees=oversees,
            nav="access",
        )

    @router.post("/access/{grant_id}/end")
    async def end(request: Request, grant_id: str, viewer: signed) -> Response:
        form = await read_post(request, viewer)
        await ui.approvals.revoke(viewer.principal, grant_id, reason=text_field(form, "reason"))
        return RedirectResponse(ui.href("/access"), status_code=303)

    return router
