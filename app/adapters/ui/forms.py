"""Reading the pages' form posts: urlencoded, bounded, each field at most once, and checked for
the session's CSRF token and a same-origin source before anything else looks at them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import parse_qs

from starlette.requests import Request

from app.adapters.ui.security import same_origin_post, same_token
from app.adapters.ui.session import Viewer
from app.core.durations import DurationError, parse_duration

#: A justification may be 10,000 characters of up to 4 UTF-8 bytes, percent-encoded.
MAX_FORM_BYTES = 128 * 1024
MAX_FIELDS = 16


class FormError(Exception):
    """A post that cannot be read; `status` is the HTTP status of the page that says so."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CsrfError(Exception):
    """A post without this session's form token, or sent from another site."""


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded body; raises FormError for anything else."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormError(415, "Send the form as application/x-www-form-urlencoded.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(413, "The form is too large.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "The form could not be read.") from None
    if any(len(values) != 1 for values in fields.values()):
        raise FormError(400, "A form field was sent more than once.")
    return {name: values[0] for name, values in fields.items()}


async def read_post(request: Request, viewer: Viewer) -> dict[str, str]:
    """The form of a post by `viewer`; raises CsrfError unless it carries their token."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not same_origin_post(headers, public_origin=viewer.origin):
        raise CsrfError("cross-site post")
    form = await read_form(request)
    if not same_token(form.get("csrf", ""), viewer.csrf):
        raise CsrfError("missing or wrong form token")
    return form


def duration_field(form: Mapping[str, str], name: str = "duration") -> timedelta | None:
    """A duration picked in a form (`90s`, `15m`, `4h`); blank is None."""
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_duration(text)
    except DurationError as error:
        raise FormError(422, f"The duration is not valid: {error}.") from None


def text_field(form: Mapping[str, str], name: str) -> str | None:
    """A free-text field; blank is None (the core strips and checks the rest)."""
    text = form.get(name, "")
    return text if text.strip() else None
