"""The page a browser gets when Countersign refuses it: which application, why in plain words,
who is signed in, and whom to ask.

It is served on the application's own origin (Traefik, Caddy and Envoy pass the check's 403
body to the browser; nginx fetches it from `/auth/nginx/denied` through `error_page 403`), so
it holds no relative link and loads nothing: the stylesheet is inline and allowed by its hash
alone. The template is compiled and the stylesheet read once, when the process starts;
rendering does no I/O. Everything shown is escaped (Jinja autoescape): names of users,
applications and policies come from outside.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from app.adapters.forward_auth.answers import JSON_TYPE, NO_STORE, Answer, RawHeaders
from app.adapters.forward_auth.original import OriginalRequest
from app.adapters.ui.render import STATIC, TEMPLATES
from app.adapters.ui.security import PAGE_HEADERS
from app.adapters.ui.views import approver_lines
from app.core.context import Identity
from app.core.decision import Decision, Effect
from app.core.policy.model import Application
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason

log = structlog.get_logger("countersign.decision")

TEMPLATE = "denied.html"
#: The refusal when the page cannot be rendered: what API clients get.
PLAIN_DENY = Answer(403, [NO_STORE, JSON_TYPE], b'{"decision":"deny"}')
STYLESHEET = "app.css"
#: Said when the application names no approver.
ADMINISTRATOR = "your administrator"
#: Why, per reason code, in the words a refused person reads. `{policy}` is the policy's name.
SENTENCES: dict[Reason, str] = {
    Reason.POLICY_BLOCK: "The policy “{policy}” refuses you access.",
    Reason.NO_POLICY_MATCHED: "No policy of this application lets you in.",
    Reason.APPLICATION_NOT_FOUND: "This address is not open to anyone.",
    Reason.EMAIL_NOT_ALLOWED: "Your email address is not allowed here.",
    Reason.EMAIL_DOMAIN_NOT_ALLOWED: "Your email domain is not allowed here.",
    Reason.GROUPS_NOT_ALLOWED: "Your groups are not allowed here.",
    Reason.IP_NOT_ALLOWED: "You are connecting from a network that is not allowed here.",
    Reason.COUNTRY_NOT_ALLOWED: "You are connecting from a country that is not allowed here.",
    Reason.DEVICE_NOT_ALLOWED: "This device is not allowed here.",
    Reason.AUTH_METHOD_NOT_ALLOWED: "The way you signed in is not allowed here.",
    Reason.CLAIM_NOT_ALLOWED: "Your account lacks something this application requires.",
    Reason.TIME_NOT_ALLOWED: "This application cannot be used at this time.",
}
#: When no reason has a sentence (or the decision is not known any more).
GENERIC = "Countersign refused this request."
NOT_SIGNED_IN = "You are not signed in: sign in, then try again."
#: The page's own CSP: nothing but its inline stylesheet, no script, no frames, no forms.
_CSP = (
    "default-src 'none'; style-src '{hash}'; img-src data:; frame-ancestors 'none'; "
    "form-action 'none'; base-uri 'none'"
)


@dataclass(frozen=True, slots=True)
class DenyView:
    """What the page says, before it is turned into HTML."""

    title: str
    why: tuple[str, ...]
    signed_in_as: str | None
    ask: tuple[str, ...]
    code: str | None


def reason_sentences(decision: Decision | None) -> tuple[str, ...]:
    """The decision's reasons in plain words, in order, each once; never the policy's rules."""
    if decision is None or decision.effect is not Effect.DENY:
        return (GENERIC,)
    policy = decision.policy or ""
    said: list[str] = []
    for reason in decision.reasons:
        text = SENTENCES.get(reason)
        if text is not None:
            sentence = text.format(policy=policy) if policy else text.replace(" “{policy}”", "")
            if sentence not in said:
                said.append(sentence)
    return tuple(said) or (GENERIC,)


def approvers_of(app: Application) -> tuple[str, ...]:
    """Everyone the application's policies name as approvers, in order, each once."""
    lines: list[str] = []
    for policy in app.policies:
        if policy.approval is not None:
            lines.extend(line for line in approver_lines(policy.approval) if line not in lines)
    return tuple(lines)


def deny_view(
    decision: Decision | None, identity: Identity | None, policies: PolicySet
) -> DenyView:
    """The page for `decision` (None: refused, but the reason is not known) seen by `identity`.

    An application is named only when the decision names one that exists: a host Countersign
    does not protect gets the same page as any unknown address.
    """
    app = None
    if decision is not None and decision.application is not None:
        app = policies.applications.get(decision.application)
    title = f"You cannot use {app.name}" if app is not None else "You cannot use this site"
    why = reason_sentences(decision)
    if identity is None:
        why = (*why, NOT_SIGNED_IN) if decision is not None else (NOT_SIGNED_IN,)
    ask = (approvers_of(app) or (ADMINISTRATOR,)) if app is not None else (ADMINISTRATOR,)
    code = None
    if decision is not None and decision.effect is Effect.DENY and decision.reasons:
        code = decision.reasons[0].value
    return DenyView(title, why, _who(identity), ask, code)


def _who(identity: Identity | None) -> str | None:
    if identity is None:
        return None
    return identity.email or identity.user


def _compile(directory: str) -> Template:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE)


class DenyPage:
    """Renders the refusal page; one per process, built by bootstrap."""

    def __init__(
        self,
        *,
        policies: Callable[[], PolicySet],
        public_url: str,
        login_url: str,
        templates: str = str(TEMPLATES),
        stylesheet: bytes | None = None,
    ) -> None:
        self._policies = policies
        self._public = public_url.rstrip("/")
        self._login_url = login_url
        self._template = _compile(templates)
        if stylesheet is None:
            stylesheet = (STATIC / STYLESHEET).read_bytes()
        css = stylesheet.decode()
        # The stylesheet is ours (not input): Markup keeps autoescape from touching it.
        self._css = Markup(css)  # noqa: S704
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        policy = _CSP.format(hash=f"sha256-{digest}")
        self.headers: RawHeaders = [
            (b"content-type", b"text/html; charset=utf-8"),
            *(
                (name.encode(), (policy if name == "content-security-policy" else value).encode())
                for name, value in PAGE_HEADERS.items()
            ),
        ]

    def view(self, decision: Decision | None, identity: Identity | None) -> DenyView:
        """What the page says for this decision and person."""
        return deny_view(decision, identity, self._policies())

    def html(
        self, decision: Decision | None, identity: Identity | None, original: OriginalRequest
    ) -> bytes:
        """The page as UTF-8 HTML."""
        view = self.view(decision, identity)
        joiner = "&" if "?" in self._login_url else "?"
        return self._template.render(
            css=self._css,
            title=view.title,
            why=view.why,
            signed_in_as=view.signed_in_as,
            ask=view.ask,
            code=view.code,
            home_url=f"{self._public}/",
            access_url=f"{self._public}/access",
            sign_in_url=f"{self._login_url}{joiner}rd={quote(original.url, safe='')}",
        ).encode()

    def answer(
        self, decision: Decision | None, identity: Identity | None, original: OriginalRequest
    ) -> Answer:
        """The 403 answer carrying the page; the plain JSON 403 if the page cannot be made
        (still a refusal: nothing here can turn into an allow)."""
        try:
            body = self.html(decision, identity, original)
        except Exception:  # a page that fails to render must not become a 500
            log.exception("deny_page_failed")
            return PLAIN_DENY
        return Answer(403, self.headers, body)
