"""One small file per proxy flavour; the answers themselves are answers.answer_for's."""

from __future__ import annotations

from app.adapters.forward_auth.flavours.base import Flavour, HttpFlavour
from app.adapters.forward_auth.flavours.envoy_http import EnvoyHttp
from app.adapters.forward_auth.flavours.nginx import Nginx
from app.adapters.forward_auth.flavours.traefik import Traefik

NGINX = Nginx()
TRAEFIK = Traefik()
ENVOY_HTTP = EnvoyHttp()
#: Where nginx's `error_page 403` handler asks for the refusal page.
NGINX_PAGE_PATH = "/auth/nginx/denied"


def http_flavour_for(path: str) -> HttpFlavour | None:
    """The flavour an /auth/* path speaks for; None for any other path."""
    if path in ("/auth/nginx", NGINX_PAGE_PATH):
        return NGINX
    if path == "/auth/traefik":
        return TRAEFIK
    if path == "/auth/envoy" or path.startswith("/auth/envoy/"):
        return ENVOY_HTTP
    return None


__all__ = [
    "ENVOY_HTTP",
    "NGINX",
    "NGINX_PAGE_PATH",
    "TRAEFIK",
    "Flavour",
    "HttpFlavour",
    "http_flavour_for",
]
