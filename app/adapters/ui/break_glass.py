"""Break-glass on the pages: the form to grant yourself access in an emergency
(`/break-glass?app=..`), and the approvers' list of uses awaiting review with a justified /
not-justified form each (`/break-glass/reviews`). The EmergencyService decides everything."""

# FastAPI reads the route annotations at run time, and they name `signed`, a local alias of
# the sign-in dependency: so no `from __future__ import annotations` here.

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.adapters.ui.deps import Ui
from app.adapters.ui.errors import approval_message, approval_status
from app.adapters.ui.forms import FormError, duration_field, read_post, text_field
from app.adapters.ui.session import Viewer
from app.core.approvals import ApprovalError, ErrorCode
from app.services.emergency import EmergencyService

Text = Annotated[str, Query(max_length=4096)]
#: What a person is told for the break-glass refusals (the rest: app.adapters.ui.errors).
_MESSAGES = {
    ErrorCode.NOT_ALLOWED_TO_BREAK_GLASS: "The policy does not let you break the glass here.",
    ErrorCode.BREAK_GLASS_NOT_OFFERED: "This application offers no break-glass access to you.",
    ErrorCode.BREAK_GLASS_ALREADY_REVIEWED: "Someone has already reviewed this use.",
    ErrorCode.GRANT_IN_FORCE: "You already have access approved for later: ask to change it.",
    ErrorCode.NOT_BREAK_GLASS: "This access was not a break-glass use.",
}


def _message(error: ApprovalError) -> str:
    return _MESSAGES.get(error.code) or approval_message(error)


def break_glass_router(ui: Ui, emergency: EmergencyService, route_class: type) -> APIRouter:
    """GET/POST /break-glass, GET /break-glass/reviews, POST /break-glass/<grant>/review."""
    router = APIRouter(route_class=route_class, include_in_schema=False)
    signed = Annotated[Viewer, Depends(ui.sessions.require)]

    def form_page(
        viewer: Viewer, app_id: str, rd: str, *, error: str = "", status: int = 200
    ) -> Response:
        app = ui.application(app_id)
        return ui.pages.render(
            "break_glass_form.html",
            status=status,
            viewer=viewer,
            app_id=app.id,
            app_name=app.name,
            rd=rd,
            error=error,
            nav="access",
        )

    async def reviews_page(viewer: Viewer, *, error: str = "", status: int = 200) -> Response:
        grants = await emergency.awaiting_review(viewer.principal)
        rows = [(g, ui.application_name(g.application)) for g in grants]
        return ui.pages.render(
            "break_glass_reviews.html",
            status=status,
            viewer=viewer,
            rows=rows,
            error=error,
            nav="break-glass",
        )

    @router.get("/break-glass")
    async def use_page(viewer: signed, app: Text, rd: Text = "") -> Response:
        return form_page(viewer, app, ui.safe_rd(rd))

    @router.post("/break-glass")
    async def use(request: Request, viewer: signed) -> Response:
        form = await read_post(request, viewer)
        app = ui.application(form.get("app", ""))
        rd = ui.safe_rd(form.get("rd", ""))
        try:
            outcome = await emergency.break_glass(
                viewer.principal,
                application=app.id,
                context=ui.access_context(request, viewer, app, rd),
                justification=text_field(form, "justification"),
                duration=duration_field(form),
            )
        except ApprovalError as error:
            return form_page(
                viewer, app.id, rd, error=_message(error), status=approval_status(error)
            )
        del outcome  # the grant is in force: on to the application (or My access)
        return RedirectResponse(rd or ui.href("/access"), status_code=303)

    @router.get("/break-glass/reviews")
    async def reviews(viewer: signed) -> Response:
        return await reviews_page(viewer)

    @router.post("/break-glass/{grant_id}/review")
    async def review(request: Request, grant_id: str, viewer: signed) -> Response:
        form = await read_post(request, viewer)
        verdict = form.get("verdict", "")
        if verdict not in ("justified", "not-justified"):
            raise FormError(422, "Say whether the use was justified.")
        try:
            await emergency.review(
                viewer.principal,
                grant_id,
                justified=verdict == "justified",
                comment=text_field(form, "comment"),
            )
        except ApprovalError as error:
            return await reviews_page(viewer, error=_message(error), status=approval_status(error))
        return RedirectResponse(
            ui.href(f"/break-glass/reviews#done-{quote(grant_id, safe='')}"), status_code=303
        )

    return router
