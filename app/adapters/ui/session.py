"""Who is looking at a page: the same identity forward-auth sees (session cookie, bearer token
or assertion header), verified by the same Authenticator. Nobody signed in: off to sign in,
with this page as the place to come back to."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.requests import Request

from app.adapters.identity.errors import IdentityError
from app.adapters.identity.extract import extract_token, headers_from_asgi
from app.adapters.ui.security import csrf_token, origin_of
from app.core.context import Identity
from app.services.ports import Identify
from app.services.principal import Principal


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in person, the principal the services judge, their form token, and the origin
    (of COUNTERSIGN_PUBLIC_URL) their posts must come from."""

    identity: Identity
    principal: Principal
    csrf: str
    origin: str

    @property
    def user(self) -> str:
        """The name grants and requests use for this person."""
        return self.identity.user


class SignInRequiredError(Exception):
    """Raised by a page that needs a signed-in person; answered with a redirect to sign in."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True, slots=True)
class Sessions:
    """Reads the viewer of a page; one per process."""

    identify: Identify
    cookie_name: str
    assertion_header: str | None
    max_token_bytes: int
    admin_groups: Collection[str]
    login_url: str
    public_url: str

    async def viewer(self, request: Request) -> Viewer | None:
        """The signed-in viewer, or None (no token, or one that does not verify)."""
        headers = headers_from_asgi(request.scope["headers"])
        try:
            token = extract_token(
                headers,
                cookie_name=self.cookie_name,
                assertion_header=self.assertion_header,
                max_bytes=self.max_token_bytes,
            )
        except IdentityError:
            return None
        if token is None:
            return None
        identity, _problem = await self.identify(headers)
        if identity is None:
            return None
        principal = Principal(
            identity=identity, is_admin=any(g in identity.groups for g in self.admin_groups)
        )
        return Viewer(
            identity=identity,
            principal=principal,
            csrf=csrf_token(token),
            origin=origin_of(self.public_url),
        )

    async def require(self, request: Request) -> Viewer:
        """The viewer; raises SignInRequiredError (a redirect to sign in) when there is none."""
        viewer = await self.viewer(request)
        if viewer is None:
            raise SignInRequiredError(self.login_location(request))
        return viewer

    def page_url(self, request: Request) -> str:
        """The absolute URL of this page under PUBLIC_URL (never from the Host header)."""
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = self.public_url.rstrip("/") + request.scope["path"]
        return f"{url}?{query}" if query else url

    def login_location(self, request: Request) -> str:
        """The sign-in page, asked to send the browser back here afterwards."""
        joiner = "&" if "?" in self.login_url else "?"
        return f"{self.login_url}{joiner}rd={quote(self.page_url(request), safe='')}"

    @property
    def base_path(self) -> str:
        """The path of PUBLIC_URL ('' at the root): every link of the pages starts with it."""
        return urlsplit(self.public_url).path.rstrip("/")
