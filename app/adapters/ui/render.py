"""The Jinja2 environment (autoescape on, undefined names are errors) and the static files.

Static files are read once at start and served from memory under `/static/<name>?v=<hash>`:
no path from a URL ever reaches the file system, and a new release gets new URLs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, Response

from app.adapters.ui import views
from app.adapters.ui.security import STATIC_HEADERS

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of the static directory, in memory."""

    body: bytes
    media_type: str
    digest: str


def load_static(directory: Path) -> Mapping[str, StaticFile]:
    """Every file of known type directly under `directory`, by name."""
    files = {}
    for path in sorted(directory.iterdir()):
        media_type = _TYPES.get(path.suffix)
        if path.is_file() and media_type is not None:
            body = path.read_bytes()
            files[path.name] = StaticFile(body, media_type, hashlib.sha256(body).hexdigest()[:12])
    return MappingProxyType(files)


class Pages:
    """Renders the templates with the helpers they share; one per process."""

    def __init__(
        self,
        *,
        base_path: str,
        clock: Callable[[], datetime],
        templates: Path = TEMPLATES,
        static: Path = STATIC,
    ) -> None:
        self.base_path = base_path
        self._clock = clock
        self.static = load_static(static)
        self._env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals.update(href=self.href, static_url=self.static_url)
        self._env.filters.update(
            iso=views.iso,
            clock=views.clock,
            when=views.when,
            span=views.span,
            human_duration=views.human_duration,
            device_text=views.device_text,
        )

    def href(self, path: str) -> str:
        """A link to one of our own pages."""
        return self.base_path + path

    def static_url(self, name: str) -> str:
        """The URL of a static file, versioned by its content."""
        return f"{self.base_path}/static/{name}?v={self.static[name].digest}"

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """The page `template` with `context`; `now`, `viewer` and `nav` are always defined."""
        context.setdefault("viewer", None)
        context.setdefault("nav", "")
        context.setdefault("now", self._clock())
        html = self._env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    def error(
        self, status: int, title: str, message: str, *, viewer: object = None, **extra: Any
    ) -> HTMLResponse:
        """A page that explains why nothing happened."""
        return self.render(
            "error.html", status=status, title=title, message=message, viewer=viewer, **extra
        )

    def static_response(self, name: str) -> Response:
        """A static file, or 404."""
        found = self.static.get(name)
        if found is None:
            return Response(b"not found\n", status_code=404, media_type="text/plain")
        return Response(found.body, media_type=found.media_type, headers=dict(STATIC_HEADERS))
