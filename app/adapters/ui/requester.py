"""The requester's pages: ask for access (`/request?app=..&rd=..`), follow the request
(`/request/<id>`, polled through `/request/<id>/status.json`), and withdraw it. Someone who
already has access under the policy they would ask under is told until when, not asked again."""

# FastAPI reads the route annotations at run time, and they name `signed`, a local alias of
# the sign-in dependency: so no `from __future__ import annotations` here.

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.adapters.ui.deps import Ui
from app.adapters.ui.errors import approval_message, approval_status
from app.adapters.ui.forms import duration_field, read_post, text_field
from app.adapters.ui.security import csp_allowing_form_redirect_to
from app.adapters.ui.session import Viewer
from app.adapters.ui.views import approvals_needed, approver_lines, duration_choices
from app.adapters.ui.windows import start_field
from app.core.approvals import AccessRequest, ApprovalError, Grant, RequestStatus
from app.core.context import AccessContext
from app.core.durations import DurationError, parse_duration
from app.core.policy.evaluate import first_match
from app.core.policy.model import Action, Application, Policy
from app.services.errors import NotRequestable, NotRequestableError, NotVisibleError

Text = Annotated[str, Query(max_length=4096)]


def request_state(request: AccessRequest, grant: Grant | None, now: datetime) -> str:
    """One word for where the requester stands."""
    if request.status is RequestStatus.PENDING:
        return "expired" if now >= request.expires_at else "pending"
    if request.status is RequestStatus.APPROVED:
        if grant is not None and grant.upcoming(now):
            return "upcoming"
        return "approved" if grant is not None and grant.is_active(now) else "ended"
    return str(request.status.value)


def status_href(ui: Ui, request_id: str, rd: str) -> str:
    """The status page of a request, carrying the validated rd."""
    path = ui.href(f"/request/{quote(request_id, safe='')}")
    return f"{path}?rd={quote(rd, safe='')}" if rd else path


def ask_again_href(ui: Ui, app_id: str, rd: str) -> str:
    """The request page for `app_id`."""
    url = ui.href(f"/request?app={quote(app_id, safe='')}")
    return f"{url}&rd={quote(rd, safe='')}" if rd else url


def applicable(ui: Ui, context: AccessContext, app: Application) -> Policy:
    """The policy the request would be judged under: the first that matches, as forward-auth
    would find it; one that does not allow is "you cannot ask"."""
    policy = first_match(app, context, now=ui.clock())
    if policy is None or policy.action is not Action.ALLOW:
        raise NotRequestableError(NotRequestable.NO_POLICY_ALLOWS)
    return policy


def form_page(
    ui: Ui,
    viewer: Viewer,
    app: Application,
    policy: Policy,
    context: AccessContext,
    *,
    rd: str,
    text: str = "",
    picked: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    """The request form, with what the person typed and the error, if any."""
    approval = policy.approval
    choices = []
    if approval is not None:
        choices = duration_choices(approval, selected=_parsed(picked))
    page = ui.pages.render(
        "request_form.html",
        status=status,
        viewer=viewer,
        app=app,
        policy=policy,
        justification=policy.justification,
        approval=approval,
        approvers=approver_lines(approval) if approval else [],
        needed=approvals_needed(approval) if approval else "",
        choices=choices,
        context=context,
        rd=rd,
        text=text,
        error=error,
    )
    # A reason alone grants at once and the post is answered with a 303 to `rd`.
    csp = csp_allowing_form_redirect_to(rd)
    if csp is not None:
        page.headers["content-security-policy"] = csp
    return page


def has_access_page(ui: Ui, viewer: Viewer, app: Application, grant: Grant, *, rd: str) -> Response:
    """ "You already have access until ...": asking again while a grant is in force is refused."""
    return ui.pages.render(
        "has_access.html",
        viewer=viewer,
        app_name=app.name,
        grant=grant,
        continue_url=rd,
        nav="access",
    )


def requester_router(ui: Ui, route_class: type) -> APIRouter:
    """GET/POST /request, GET /request/<id>, its status.json, POST /request/<id>/cancel."""
    router = APIRouter(route_class=route_class, include_in_schema=False)
    signed = Annotated[Viewer, Depends(ui.sessions.require)]

    @router.get("/request")
    async def request_page(
        request: Request, viewer: signed, app: Text = "", rd: Text = ""
    ) -> Response:
        application = ui.application(app)
        target = ui.safe_rd(rd)
        context = ui.access_context(request, viewer, application, target)
        policy = applicable(ui, context, application)
        if policy.approval is None and policy.justification is None:
            return ui.pages.render(
                "notice.html",
                viewer=viewer,
                title=f"You can use {application.name}",
                message="No approval or reason is needed for you right now.",
                continue_url=target,
            )
        standing = await ui.approvals.standing(
            viewer.principal, application=application.id, context=context
        )
        if standing.grant is not None:
            return has_access_page(ui, viewer, application, standing.grant, rd=target)
        if standing.request is not None:
            return RedirectResponse(status_href(ui, standing.request.id, target), status_code=303)
        return form_page(ui, viewer, application, policy, context, rd=target)

    @router.post("/request")
    async def submit(request: Request, viewer: signed) -> Response:
        form = await read_post(request, viewer)
        application = ui.application(form.get("app", ""))
        target = ui.safe_rd(form.get("rd", ""))
        context = ui.access_context(request, viewer, application, target)
        policy = applicable(ui, context, application)
        text = form.get("justification", "")
        try:
            duration = duration_field(form) if policy.approval is not None else None
            outcome = await ui.approvals.request_access(
                viewer.principal,
                application=application.id,
                context=context,
                justification=text_field(form, "justification"),
                duration=duration,
                starts_at=start_field(form) if policy.approval is not None else None,
            )
        except ApprovalError as error:
            return form_page(
                ui,
                viewer,
                application,
                policy,
                context,
                rd=target,
                text=text,
                picked=form.get("duration", ""),
                error=approval_message(error),
                status=approval_status(error),
            )
        if outcome.request is not None:
            return RedirectResponse(status_href(ui, outcome.request.id, target), status_code=303)
        if outcome.grant is not None and not outcome.created:
            return has_access_page(ui, viewer, application, outcome.grant, rd=target)
        return RedirectResponse(target or ui.href("/access"), status_code=303)

    @router.get("/request/{request_id}")
    async def status_page(request_id: str, viewer: signed, rd: Text = "") -> Response:
        found = await ui.approvals.get_request(viewer.principal, request_id)
        if not found.requester.is_requester(viewer.identity):
            return RedirectResponse(ui.href(f"/inbox/{quote(found.id, safe='')}"), status_code=303)
        grant = await _grant_of(ui, viewer, found)
        target = ui.safe_rd(rd)
        state = request_state(found, grant, ui.clock())
        return ui.pages.render(
            "request_status.html",
            viewer=viewer,
            request=found,
            grant=grant,
            state=state,
            app_name=ui.application_name(found.application),
            rd=target,
            app_url=ui.application_url(found.application),
            poll_url=ui.href(f"/request/{quote(found.id, safe='')}/status.json"),
            again_url=ask_again_href(ui, found.application, target),
            nav="access",
        )

    @router.get("/request/{request_id}/status.json")
    async def status_json(request: Request, request_id: str) -> Response:
        viewer = await ui.sessions.viewer(request)
        if viewer is None:
            return JSONResponse({"error": "sign-in-required"}, status_code=401)
        try:
            found = await ui.approvals.get_request(viewer.principal, request_id)
        except NotVisibleError:
            return JSONResponse({"error": "not-found"}, status_code=404)
        grant = await _grant_of(ui, viewer, found)
        state = request_state(found, grant, ui.clock())
        return JSONResponse({"state": state, "status": found.status.value})

    @router.post("/request/{request_id}/cancel")
    async def cancel(request: Request, request_id: str, viewer: signed) -> Response:
        form = await read_post(request, viewer)
        await ui.approvals.cancel(viewer.principal, request_id)
        return RedirectResponse(
            status_href(ui, request_id, ui.safe_rd(form.get("rd", ""))), status_code=303
        )

    return router


async def _grant_of(ui: Ui, viewer: Viewer, request: AccessRequest) -> Grant | None:
    if request.grant_id is None:
        return None
    try:
        return await ui.approvals.get_grant(viewer.principal, request.grant_id)
    except NotVisibleError:
        return None


def _parsed(text: str) -> timedelta | None:
    try:
        return parse_duration(text) if text else None
    except DurationError:
        return None
