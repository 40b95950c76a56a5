"""Identity: find the caller's JWT, verify it against the configured issuers, map it to an
Identity. Tokens are never logged."""

from app.adapters.identity.authenticate import Authenticator
from app.adapters.identity.errors import IdentityError, TokenProblem
from app.adapters.identity.extract import extract_token, headers_from_asgi
from app.adapters.identity.key_sources import JwksKeys, KeySource, StaticKeys
from app.adapters.identity.keys import VerificationKey, key_from_jwk, key_from_pem
from app.adapters.identity.verifier import JwtVerifier, TrustedIssuer

__all__ = [
    "Authenticator",
    "IdentityError",
    "JwksKeys",
    "JwtVerifier",
    "KeySource",
    "StaticKeys",
    "TokenProblem",
    "TrustedIssuer",
    "VerificationKey",
    "extract_token",
    "headers_from_asgi",
    "key_from_jwk",
    "key_from_pem",
]
