"""The approver's pages: the inbox of pending requests they may review (never their own), the
detail of one request, and the approve and deny forms.

Under a policy with `reviewers_need`, an approver whose sign-in is too old or lacks MFA sees
why and a "Sign in again" link (back to this page afterwards) instead of the approve form; an
approval posted anyway is refused by the service with the same message and link. The deny
form stays: denying needs no fresh sign-in."""

# FastAPI reads the route annotations at run time, and they name `signed`, a local alias of
# the sign-in dependency: so no `from __future__ import annotations` here.

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.adapters.ui.deps import Ui
from app.adapters.ui.errors import approval_message, approval_status, step_up_message
from app.adapters.ui.forms import duration_field, read_post, text_field
from app.adapters.ui.session import Viewer
from app.adapters.ui.views import approvals_needed, approver_lines, duration_choices
from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ReviewDecision,
    StepUpRequiredError,
)

Cursor = Annotated[str | None, Query(max_length=40)]
PAGE_SIZE = 50


def approver_router(ui: Ui, route_class: type) -> APIRouter:
    """GET /inbox, GET /inbox/<id>, POST /inbox/<id>/approve, POST /inbox/<id>/deny."""
    router = APIRouter(route_class=route_class, include_in_schema=False)
    signed = Annotated[Viewer, Depends(ui.sessions.require)]

    def detail_page(
        viewer: Viewer,
        request: AccessRequest,
        *,
        error: str = "",
        comment: str = "",
        status: int = 200,
        refused: StepUpRequiredError | None = None,
    ) -> Response:
        policy = ui.policy_of(request)
        approval = policy.approval if policy is not None else None
        can_review = ui.may_review(viewer, request)
        mine = request.requester.same_person(viewer.identity)
        choices = []
        if approval is not None and can_review:
            choices = duration_choices(approval, selected=request.requested_duration)
        step_up = refused or (ui.step_up_needed(viewer, request) if can_review else None)
        return ui.pages.render(
            "review.html",
            status=status,
            viewer=viewer,
            request=request,
            app_name=ui.application_name(request.application),
            approval=approval,
            approvers=approver_lines(approval) if approval else [],
            needed=approvals_needed(approval) if approval else "",
            can_review=can_review,
            own=mine,
            reviewed=request.reviewed_by(viewer.identity),
            choices=choices,
            step_up_text=step_up_message(step_up) if step_up is not None else "",
            step_up_url=ui.step_up_url(request, step_up) if step_up is not None else "",
            error=error,
            comment=comment,
            status_url=ui.href(f"/request/{quote(request.id, safe='')}"),
            action=ui.href(f"/inbox/{quote(request.id, safe='')}"),
            nav="inbox",
        )

    @router.get("/inbox")
    async def inbox(viewer: signed, cursor: Cursor = None) -> Response:
        page = await ui.approvals.list_requests(
            viewer.principal, to_review=True, cursor=cursor, limit=PAGE_SIZE
        )
        rows = [
            (r, ui.application_name(r.application), r.reviewed_by(viewer.identity))
            for r in page.items
        ]
        return ui.pages.render(
            "inbox.html",
            viewer=viewer,
            rows=rows,
            approver=ui.approves_anything(viewer),
            next_url=ui.href(f"/inbox?cursor={quote(page.next_cursor)}")
            if page.next_cursor and len(page.items) == PAGE_SIZE
            else "",
            nav="inbox",
        )

    @router.get("/inbox/{request_id}")
    async def detail(request_id: str, viewer: signed) -> Response:
        found = await ui.approvals.get_request(viewer.principal, request_id)
        return detail_page(viewer, found)

    async def review(
        request: Request, request_id: str, viewer: Viewer, decision: ReviewDecision
    ) -> Response:
        form = await read_post(request, viewer)
        found = await ui.approvals.get_request(viewer.principal, request_id)
        comment = text_field(form, "comment")
        try:
            if decision is ReviewDecision.APPROVE:
                await ui.approvals.approve(
                    viewer.principal,
                    found.id,
                    duration=duration_field(form),
                    comment=comment,
                )
            else:
                if comment is None:
                    return detail_page(
                        viewer,
                        found,
                        error="Say why you deny the request: the requester will read it.",
                        status=422,
                    )
                await ui.approvals.deny(viewer.principal, found.id, comment=comment)
        except ApprovalError as error:
            current = await ui.approvals.get_request(viewer.principal, found.id)
            return detail_page(
                viewer,
                current,
                error=approval_message(error),
                comment=comment or "",
                status=approval_status(error),
                refused=error if isinstance(error, StepUpRequiredError) else None,
            )
        return RedirectResponse(ui.href(f"/inbox/{quote(found.id, safe='')}"), status_code=303)

    @router.post("/inbox/{request_id}/approve")
    async def approve(request: Request, request_id: str, viewer: signed) -> Response:
        return await review(request, request_id, viewer, ReviewDecision.APPROVE)

    @router.post("/inbox/{request_id}/deny")
    async def deny(request: Request, request_id: str, viewer: signed) -> Response:
        return await review(request, request_id, viewer, ReviewDecision.DENY)

    return router
