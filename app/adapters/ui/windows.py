"""Planned windows and extensions on the pages: reading a start time from the request form,
and the page to ask for more time on a live grant (`/access/<grant>/extend`)."""

# FastAPI reads the route annotations at run time, and they name `signed`, a local alias of
# the sign-in dependency: so no `from __future__ import annotations` here.

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from app.adapters.ui.deps import Ui
from app.adapters.ui.errors import approval_message, approval_status
from app.adapters.ui.forms import FormError, duration_field, read_post, text_field
from app.adapters.ui.session import Viewer
from app.adapters.ui.views import duration_choices
from app.core.approvals import ApprovalError, Grant
from app.core.approvals.visibility import policy_named
from app.core.policy.model import Policy

#: What a `datetime-local` field sends (seconds optional), read as UTC: the field says so.
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def start_field(form: Mapping[str, str], name: str = "starts_at") -> datetime | None:
    """The start of a planned window from the request form (UTC, as labelled); blank is None."""
    text = form.get(name, "").strip()
    if not text:
        return None
    if not _LOCAL.match(text):
        raise FormError(422, "The start is not a date and time like 2026-12-03T22:00.")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise FormError(422, "The start is not a real date and time.") from None


def extension_router(ui: Ui, route_class: type) -> APIRouter:
    """GET/POST /access/<grant id>/extend: the holder asks for more time."""
    router = APIRouter(route_class=route_class, include_in_schema=False)
    signed = Annotated[Viewer, Depends(ui.sessions.require)]

    def page(
        viewer: Viewer, grant: Grant, policy: Policy, *, error: str = "", status: int = 200
    ) -> Response:
        approval = policy.approval
        return ui.pages.render(
            "extend_form.html",
            status=status,
            viewer=viewer,
            grant=grant,
            app_name=ui.application_name(grant.application),
            justification=policy.justification,
            approval=approval,
            choices=duration_choices(approval, selected=None) if approval else [],
            error=error,
            nav="access",
        )

    def policy_of(grant: Grant) -> Policy:
        policy = policy_named(ui.policies(), grant.application, grant.policy)
        if policy is None or policy.approval is None:
            raise FormError(409, "The policy this access was granted under has changed.")
        return policy

    @router.get("/access/{grant_id}/extend")
    async def extend_page(grant_id: str, viewer: signed) -> Response:
        grant = await ui.approvals.get_grant(viewer.principal, grant_id)
        return page(viewer, grant, policy_of(grant))

    @router.post("/access/{grant_id}/extend")
    async def extend(request: Request, grant_id: str, viewer: signed) -> Response:
        form = await read_post(request, viewer)
        grant = await ui.approvals.get_grant(viewer.principal, grant_id)
        policy = policy_of(grant)
        application = ui.application(grant.application)
        context = ui.access_context(request, viewer, application, "")
        try:
            asked, _ = await ui.approvals.request_extension(
                viewer.principal,
                grant.id,
                context=context,
                justification=text_field(form, "justification"),
                duration=duration_field(form),
            )
        except ApprovalError as error:
            return page(
                viewer,
                grant,
                policy,
                error=approval_message(error),
                status=approval_status(error),
            )
        return RedirectResponse(ui.href(f"/request/{quote(asked.id, safe='')}"), status_code=303)

    return router
