"""What the page routes share: the services they call and the small readings they make of a
request (the validated `rd`, the access context of the person asking, who may review what)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from starlette.requests import Request

from app.adapters.identity.extract import headers_from_asgi
from app.adapters.step_up import StepUpLinks
from app.adapters.ui.render import Pages
from app.adapters.ui.session import Sessions, Viewer
from app.core.approvals import AccessRequest, StepUpRequiredError, visibility
from app.core.approvals.step_up import shortfall
from app.core.context import AccessContext, build_access_context
from app.core.paths import HostError, PathError, normalize_host, normalize_path
from app.core.policy.model import Application, Policy
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.errors import NotVisibleError
from app.services.ports import ReadSignals
from app.services.workflow import onlooker


@dataclass(frozen=True, slots=True)
class Ui:
    """Everything the page routes need, built once by bootstrap."""

    approvals: ApprovalService
    policies: Callable[[], PolicySet]
    sessions: Sessions
    signals: ReadSignals
    is_safe_redirect: Callable[[str], bool]
    pages: Pages
    clock: Callable[[], datetime]
    step_up: StepUpLinks

    def href(self, path: str) -> str:
        """A link to one of our own pages."""
        return self.pages.href(path)

    def safe_rd(self, rd: str) -> str:
        """`rd` when it points at a protected host or our own pages, else ''."""
        return rd if rd and self.is_safe_redirect(rd) else ""

    def application(self, app_id: str) -> Application:
        """The application by id; an unknown one is "not found"."""
        found = self.policies().applications.get(app_id)
        if found is None:
            raise NotVisibleError(app_id)
        return found

    def application_name(self, app_id: str) -> str:
        """The display name of an application, or its id when it is gone from the policies."""
        found = self.policies().applications.get(app_id)
        return found.name if found is not None else app_id

    def application_url(self, app_id: str) -> str:
        """Where to open an application: its first host that is not a wildcard and its first
        path, over PUBLIC_URL's scheme; '' when it has no such host (or is gone)."""
        app = self.policies().applications.get(app_id)
        host = next((h for h in app.hosts if "*" not in h), None) if app is not None else None
        if app is None or host is None:
            return ""
        scheme = urlsplit(self.step_up.public_url).scheme or "https"
        url = f"{scheme}://{host}{app.paths[0] if app.paths else '/'}"
        return url if self.is_safe_redirect(url) else ""

    def policy_of(self, request: AccessRequest) -> Policy | None:
        """The policy a request was made under, if it still exists."""
        app = self.policies().applications.get(request.application)
        return app.policy_named(request.policy) if app is not None else None

    def may_review(self, viewer: Viewer, request: AccessRequest) -> bool:
        """Whether to offer the review forms: pending, not one's own, and a listed approver of
        the policy as it was when asked (core.approvals.visibility, the inbox's rule too).

        The service judges again when the form is posted; this only decides what to show.
        """
        return visibility.may_review(onlooker(viewer.principal), request, self.policies())

    def step_up_needed(self, viewer: Viewer, request: AccessRequest) -> StepUpRequiredError | None:
        """The refusal an approval by the viewer would meet now for want of a fresh or MFA
        sign-in (the policy's `reviewers_need`), or None when their sign-in is good enough.

        Judged by the same core rule as the approval itself; it only decides what to show."""
        policy = self.policy_of(request)
        need = policy.approval.reviewers_need if policy and policy.approval else None
        if need is None:
            return None
        missing = shortfall(viewer.identity, need, now=self.clock())
        if not missing:
            return None
        return StepUpRequiredError(mfa=need.mfa, max_age=need.max_age_seconds, missing=missing)

    def step_up_url(self, request: AccessRequest, need: StepUpRequiredError) -> str:
        """Sign in again as `need` asks, then back to this request's review page."""
        return self.step_up.sign_in_to_review(request.id, mfa=need.mfa, max_age=need.max_age)

    def approves_anything(self, viewer: Viewer) -> bool:
        """Whether the viewer is an approver for any application (or an admin)."""
        return visibility.approves_anything(onlooker(viewer.principal), self.policies())

    def access_context(
        self, request: Request, viewer: Viewer, app: Application, rd: str
    ) -> AccessContext:
        """The attempt as forward-auth would judge it: the viewer, their signals (read from the
        trusted proxy's metadata exactly as on the decision path), and the target of `rd` when
        it belongs to `app`. Raises ForwardedHeaderError for unreadable proxy metadata."""
        headers = headers_from_asgi(request.scope["headers"])
        client = request.scope.get("client")
        peer = client[0] if client else ""
        signals = self.signals(peer, headers, viewer.identity)
        scheme, host, path = _target(rd, app, self.policies())
        return build_access_context(
            host=host,
            path=path,
            method="GET",
            scheme=scheme,
            identity=viewer.identity,
            signals=signals,
            user_agent=headers.get("user-agent", ""),
        )


def _target(rd: str, app: Application, policies: PolicySet) -> tuple[str, str, str]:
    """(scheme, host, path) of `rd` if it resolves to `app`, else the app's first plain host."""
    if rd.startswith(("http://", "https://")):
        parts = urlsplit(rd)
        try:
            host = normalize_host(parts.netloc)
            path = normalize_path(parts.path or "/")
        except (HostError, PathError):
            pass
        else:
            found = policies.resolve(host, path)
            if found is not None and found.id == app.id:
                return parts.scheme, host, path
    host = next((h for h in app.hosts if not h.startswith("*.")), app.hosts[0].lstrip("*."))
    return "https", host, app.paths[0] if app.paths else "/"
