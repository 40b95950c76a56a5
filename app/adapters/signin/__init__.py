"""Signing in for real: Countersign as an OpenID Connect relying party (code flow + PKCE), the
/login, /login/callback and /logout routes, and the provider's discovery document and keys."""
