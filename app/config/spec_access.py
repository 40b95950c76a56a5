"""The settings rows of who may ask: token verification (identity), the access rules around it
and Countersign's own sessions and sign-in."""

from __future__ import annotations

from app.config import values as v
from app.config.issuers import algorithms
from app.config.sessions import assertion_ttl, scopes
from app.config.spec_base import Spec, grouped

_duration = v.duration()

ACCESS_SPECS: tuple[Spec, ...] = (
    *grouped(
        "identity",
        Spec(
            "jwt_algorithms",
            "RS256,ES256,EdDSA",
            "Accepted signature algorithms; none and HS* are refused.",
            algorithms,
        ),
        Spec(
            "jwt_leeway",
            "30s",
            "Clock skew allowed on exp and nbf ('0s' for none).",
            v.duration(allow_zero=True),
        ),
        Spec(
            "jwks_refresh_interval",
            "30s",
            "Least time between JWKS fetches caused by an unknown kid.",
            _duration,
        ),
        Spec("jwks_cache_ttl", "10m", "How long fetched keys count as fresh.", _duration),
        Spec(
            "token_cache_ttl",
            "5m",
            "How long a verified token is remembered (never past its exp).",
            _duration,
        ),
        Spec(
            "token_cache_size",
            "10000",
            "Verified tokens kept (0 disables).",
            v.integer(0, 1_000_000),
        ),
        Spec("max_token_bytes", "16384", "Longest token accepted.", v.integer(1024, 1_048_576)),
        Spec(
            "cookie_name",
            "countersign_session",
            "Session cookie holding the token.",
            v.cookie_name,
        ),
        Spec(
            "assertion_header",
            None,
            "Header carrying a token from an upstream identity proxy.",
            v.header,
        ),
        strip="jwt_",
    ),
    # Claim names: put together into identity.claims (and the defaults of each issuer's).
    Spec("claim_email", "email", "Claim holding the email address.", v.text),
    Spec("claim_groups", "groups", "Claim holding the groups (list or comma string).", v.text),
    Spec("claim_amr", "amr", "Claim holding the authentication methods.", v.text),
    Spec("claim_device_managed", "device_managed", "Boolean claim: managed device.", v.text),
    Spec("claim_device_tags", "device_tags", "List claim: device posture tags.", v.text),
    *grouped(
        "access",
        Spec(
            "admin_groups",
            "countersign-admins",
            "Comma list of groups whose members administer Countersign (API, revocations).",
            v.text_list,
        ),
    ),
    *grouped(
        "sessions",
        Spec("cookie_domain", None, "Domain attribute of the session cookie.", v.cookie_domain),
        Spec(
            "session_key_file",
            None,
            "Comma list of PEM EC P-256 private keys signing sessions: the first signs, all "
            "verify.",
            v.paths,
            "unset (dev: DATA_DIR/dev/session-key.pem)",
        ),
        Spec(
            "session_ttl",
            "12h",
            "Absolute lifetime of a Countersign session (never extended).",
            _duration,
        ),
        Spec(
            "assertion_ttl",
            "5m",
            "Lifetime of the X-Countersign-Assertion JWT on allow answers (10s to 1h).",
            assertion_ttl,
        ),
        strip="session_",
    ),
    # Sign-in through an OpenID provider: put together into `signin`.
    Spec(
        "oidc_issuer",
        None,
        "Issuer URL of the OpenID provider people sign in with (https; http only on "
        "loopback); unset turns OIDC sign-in off.",
        v.issuer_url,
    ),
    Spec(
        "oidc_client_id",
        None,
        "Client id registered at the provider; needed with OIDC_ISSUER.",
        v.text,
    ),
    Spec(
        "oidc_client_secret",
        None,
        "Client secret (secret; use OIDC_CLIENT_SECRET_FILE); unset makes a public client "
        "(PKCE only).",
        v.secret,
    ),
    Spec("oidc_scopes", "openid email profile", "Scopes asked for; must include openid.", scopes),
    Spec("oidc_groups_claim", "groups", "Claim holding the groups at the provider.", v.text),
    Spec(
        "oidc_groups_from",
        "id_token",
        "Where groups are read: id_token or userinfo.",
        v.choice("id_token", "userinfo"),
    ),
    Spec(
        "oidc_acr_values",
        None,
        "acr_values asked for (and required in the ID token) when a step-up sign-in asks for MFA.",
        v.text,
    ),
    Spec(
        "oidc_algorithms",
        "RS256,ES256,EdDSA",
        "ID token signature algorithms accepted; none and HS* are refused.",
        algorithms,
    ),
)
