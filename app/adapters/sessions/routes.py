"""GET /.well-known/jwks.json: the public keys of Countersign's sessions and assertions, for
applications and tools that verify them (never a private member)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.adapters.sessions.contract import Signer

JWKS_PATH = "/.well-known/jwks.json"


def jwks_router(signer: Signer) -> APIRouter:
    """The JWKS endpoint, cacheable for five minutes (rotations add a key well before use)."""
    router = APIRouter(include_in_schema=False)

    @router.get(JWKS_PATH)
    async def jwks() -> JSONResponse:
        return JSONResponse(signer.jwks(), headers={"cache-control": "public, max-age=300"})

    return router
