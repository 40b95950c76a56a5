"""Settings from COUNTERSIGN_* variables: defaults, parsing, secrets and one-line errors."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import pytest

from app.config import Settings, SettingsError, load_settings
from app.config.loader import load_client_settings
from app.config.spec import SETTINGS_DOC, SPECS

IDP = {
    "COUNTERSIGN_ISSUER": "https://idp.example.com",
    "COUNTERSIGN_AUDIENCE": "countersign",
    "COUNTERSIGN_JWKS_URL": "https://idp.example.com/jwks",
}


def error_for(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_defaults_need_no_environment() -> None:
    """With nothing set, the documented defaults apply."""
    settings = load_settings({})
    server = settings.server
    assert (server.host, server.port, server.workers) == ("127.0.0.1", 8080, 1)
    assert server.login_url == "http://127.0.0.1:8080/login"
    assert settings.signals.trusted_proxies == (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    assert settings.redis.timeout == timedelta(milliseconds=250)
    assert settings.identity.algorithms == ("RS256", "ES256", "EdDSA")
    assert settings.dev.users == Path("policy_rules/dev-users.yaml")
    assert (settings.dev.enabled, settings.redis.url, settings.identity.issuers) == (
        False,
        None,
        (),
    )


@pytest.mark.parametrize(
    ("env", "public_url"),
    [
        ({"COUNTERSIGN_PORT": "9090"}, "http://127.0.0.1:9090"),
        ({"COUNTERSIGN_HOST": "0.0.0.0", "COUNTERSIGN_PORT": "9090"}, "http://127.0.0.1:9090"),  # noqa: S104
        ({"COUNTERSIGN_HOST": "::1", "COUNTERSIGN_PORT": "9443"}, "http://[::1]:9443"),
        ({"COUNTERSIGN_HOST": "auth.test"}, "http://auth.test:8080"),
        (
            {"COUNTERSIGN_PORT": "9090", "COUNTERSIGN_PUBLIC_URL": "https://auth.example.com"},
            "https://auth.example.com",
        ),
    ],
)
def test_public_url_follows_host_and_port_unless_set(env: dict[str, str], public_url: str) -> None:
    """Setting PORT alone moves PUBLIC_URL, the sign-in URL and the CLI's API_URL with it."""
    settings = load_settings(env)
    assert settings.server.public_url == public_url
    assert settings.server.login_url == public_url + "/login"
    assert settings.client.api_url == f"http://127.0.0.1:{settings.server.port}"


def test_the_cli_finds_the_api_on_port() -> None:
    """`requests`/`grants` commands default to this machine's PORT."""
    assert load_client_settings({"COUNTERSIGN_PORT": "9191"})[0] == "http://127.0.0.1:9191"
    with pytest.raises(SettingsError, match="COUNTERSIGN_PORT"):
        load_client_settings({"COUNTERSIGN_PORT": "http"})


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after start-up."""
    settings = load_settings({})
    with pytest.raises(ValueError, match="frozen"):
        settings.server.port = 1
    with pytest.raises(ValueError, match="frozen"):
        settings.server = settings.server


def test_other_environment_variables_are_ignored() -> None:
    """Only COUNTERSIGN_* variables are read."""
    assert load_settings({"PORT": "x", "HOME": "/root"}).server.port == 8080


def test_empty_variable_counts_as_unset() -> None:
    """`COUNTERSIGN_PORT=` (as compose files write it) keeps the default."""
    assert load_settings({"COUNTERSIGN_PORT": ""}).server.port == 8080


def test_issuer_shorthand_makes_one_issuer() -> None:
    """ISSUER, AUDIENCE and JWKS_URL make one issuer with the global algorithms and claims."""
    env = {**IDP, "COUNTERSIGN_CLAIM_GROUPS": "roles", "COUNTERSIGN_JWT_ALGORITHMS": "ES256"}
    (issuer,) = load_settings(env).identity.issuers
    assert issuer.issuer == "https://idp.example.com"
    assert issuer.audiences == ("countersign",)
    assert issuer.algorithms == ("ES256",)
    assert issuer.claims.groups == "roles"


def test_login_url_follows_public_url() -> None:
    """LOGIN_URL defaults to PUBLIC_URL/login, trailing slash removed."""
    settings = load_settings({"COUNTERSIGN_PUBLIC_URL": "https://auth.example.com/"})
    assert settings.server.login_url == "https://auth.example.com/login"
    assert settings.server.public_is_https


def test_dev_users_follows_policy_dir() -> None:
    """DEV_USERS defaults to POLICY_DIR/dev-users.yaml."""
    settings = load_settings({"COUNTERSIGN_POLICY_DIR": "/etc/countersign/policy"})
    assert settings.dev.users == Path("/etc/countersign/policy/dev-users.yaml")


def test_header_names_are_lower_cased() -> None:
    """Header settings are stored lower-case, ready for ASGI lookups."""
    settings = load_settings({"COUNTERSIGN_COUNTRY_HEADER": "CF-IPCountry"})
    assert settings.signals.country_header == "cf-ipcountry"


def test_trusted_proxies_none_trusts_nobody() -> None:
    """`TRUSTED_PROXIES=none` disables forwarded headers altogether."""
    assert load_settings({"COUNTERSIGN_TRUSTED_PROXIES": "none"}).signals.trusted_proxies == ()


def test_password_file_is_read(tmp_path: Path) -> None:
    """REDIS_PASSWORD_FILE reads the secret, without the file's trailing newline."""
    secret = tmp_path / "redis-password"
    secret.write_text("s3cret\n")
    settings = load_settings({"COUNTERSIGN_REDIS_PASSWORD_FILE": str(secret)})
    assert settings.redis.password is not None
    assert settings.redis.password.get_secret_value() == "s3cret"


def test_secrets_never_show_in_repr() -> None:
    """Neither the password nor a password inside REDIS_URL appears in repr()."""
    settings = load_settings(
        {
            "COUNTERSIGN_REDIS_PASSWORD": "hunter2",
            "COUNTERSIGN_REDIS_URL": "redis://:hunter3@redis:6379/0",
        }
    )
    assert "hunter2" not in repr(settings)
    assert "hunter3" not in repr(settings)


def test_settings_doc_lists_every_setting() -> None:
    """SETTINGS_DOC has a row for every variable the loader reads, each with a description,
    and every field of every settings group is filled by a row or by a composite."""
    names = {row[0] for row in SETTINGS_DOC}
    assert "COUNTERSIGN_CONFIG" in names
    filled = {spec.at for spec in SPECS if spec.at is not None}
    # Built from several rows (claims from CLAIM_*, issuers from the shorthand and the file,
    # signin from OIDC_*) or from the file only.
    composite = {"identity.issuers", "identity.claims", "access.service_tokens", "notify.channels"}
    for group, field in Settings.model_fields.items():
        if group in ("signin", "config_file"):
            continue
        model = field.annotation
        assert isinstance(model, type)
        for name in model.model_fields:
            assert f"{group}.{name}" in filled | composite, f"{group}.{name}"
    for spec in SPECS:
        assert f"COUNTERSIGN_{spec.key.upper()}" in names
    assert all(description for _, _, description in SETTINGS_DOC)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"COUNTERSIGN_PORT": "eighty"}, "COUNTERSIGN_PORT: must be a whole number"),
        ({"COUNTERSIGN_PORT": "70000"}, "COUNTERSIGN_PORT: must be from 1 to 65535"),
        ({"COUNTERSIGN_WORKERS": "0"}, "COUNTERSIGN_WORKERS: must be from 1 to 64"),
        (
            {"COUNTERSIGN_PUBLIC_URL": "auth.example.com"},
            "COUNTERSIGN_PUBLIC_URL: must be an absolute",
        ),
        (
            {"COUNTERSIGN_PUBLIC_URL": "ftp://auth.example.com"},
            "COUNTERSIGN_PUBLIC_URL: must be an absolute",
        ),
        (
            {"COUNTERSIGN_PUBLIC_URL": "https://a.example/?x=1"},
            "COUNTERSIGN_PUBLIC_URL: must not have a query",
        ),
        ({"COUNTERSIGN_LOGIN_URL": "/login"}, "COUNTERSIGN_LOGIN_URL: must be an absolute"),
        (
            {"COUNTERSIGN_TRUSTED_PROXIES": "10.0.0.0/8,nope"},
            "COUNTERSIGN_TRUSTED_PROXIES: 'nope' is not",
        ),
        ({"COUNTERSIGN_TRUSTED_PROXIES": "10.0.0.1/8"}, "did you mean 10.0.0.0/8?"),
        (
            {"COUNTERSIGN_POLICY_RELOAD_INTERVAL": "2 seconds"},
            "COUNTERSIGN_POLICY_RELOAD_INTERVAL: '2 seconds' is not a duration",
        ),
        ({"COUNTERSIGN_REDIS_TIMEOUT": "0ms"}, "COUNTERSIGN_REDIS_TIMEOUT:"),
        (
            {"COUNTERSIGN_REDIS_MODE": "replica"},
            "COUNTERSIGN_REDIS_MODE: must be one of standalone, sentinel, cluster",
        ),
        (
            {"COUNTERSIGN_REDIS_MODE": "sentinel"},
            "COUNTERSIGN_REDIS_URL: required with COUNTERSIGN_REDIS_MODE=sentinel",
        ),
        (
            {"COUNTERSIGN_REDIS_URL": "http://redis:6379"},
            "COUNTERSIGN_REDIS_URL: must be a redis://",
        ),
        ({"COUNTERSIGN_DEV": "maybe"}, "COUNTERSIGN_DEV: must be true or false"),
        ({"COUNTERSIGN_LOG_LEVEL": "loud"}, "COUNTERSIGN_LOG_LEVEL: must be one of"),
        (
            {"COUNTERSIGN_COOKIE_NAME": "my cookie"},
            "COUNTERSIGN_COOKIE_NAME: 'my cookie' is not a valid cookie name",
        ),
        (
            {"COUNTERSIGN_COUNTRY_HEADER": "CF IPCountry"},
            "COUNTERSIGN_COUNTRY_HEADER: 'CF IPCountry' is not a valid HTTP header name",
        ),
        (
            {"COUNTERSIGN_JWT_ALGORITHMS": "RS256,none"},
            "COUNTERSIGN_JWT_ALGORITHMS: 'none' is refused",
        ),
        ({"COUNTERSIGN_JWT_ALGORITHMS": "HS256"}, "COUNTERSIGN_JWT_ALGORITHMS: HS256 is refused"),
        (
            {"COUNTERSIGN_JWT_ALGORITHMS": "PS256"},
            "COUNTERSIGN_JWT_ALGORITHMS: 'PS256' is not supported",
        ),
        ({"COUNTERSIGN_MAX_TOKEN_BYTES": "10"}, "COUNTERSIGN_MAX_TOKEN_BYTES: must be from 1024"),
        (
            {"COUNTERSIGN_PORTT": "80"},
            "COUNTERSIGN_PORTT: unknown setting; did you mean COUNTERSIGN_PORT?",
        ),
    ],
)
def test_bad_setting_is_one_line_naming_the_variable(env: dict[str, str], expected: str) -> None:
    """Each bad value stops start-up with one line that names the variable and the problem."""
    assert expected in error_for(env)


def test_issuer_without_audience_is_refused() -> None:
    """ISSUER alone cannot be checked: AUDIENCE is required with it."""
    env = {k: v for k, v in IDP.items() if k != "COUNTERSIGN_AUDIENCE"}
    assert error_for(env) == ("COUNTERSIGN_AUDIENCE: required when COUNTERSIGN_ISSUER is set")


def test_jwks_url_without_issuer_is_refused() -> None:
    """JWKS_URL without ISSUER names the missing ISSUER."""
    assert error_for({"COUNTERSIGN_JWKS_URL": "https://idp.example.com/jwks"}) == (
        "COUNTERSIGN_ISSUER: required when COUNTERSIGN_JWKS_URL is set"
    )


def test_issuer_without_keys_is_refused() -> None:
    """An issuer needs a JWKS URL or a key file."""
    env = {k: v for k, v in IDP.items() if k != "COUNTERSIGN_JWKS_URL"}
    assert "COUNTERSIGN_ISSUER: needs a JWKS URL or a key file" in error_for(env)


def test_jwks_url_and_key_file_together_are_refused(tmp_path: Path) -> None:
    """JWKS_URL and JWT_KEY_FILE both set is ambiguous."""
    env = {**IDP, "COUNTERSIGN_JWT_KEY_FILE": str(tmp_path / "k.pem")}
    assert "give a JWKS URL or a key file, not both" in error_for(env)


def test_missing_key_file_is_refused(tmp_path: Path) -> None:
    """A JWT_KEY_FILE that does not exist is named."""
    env = {**IDP, "COUNTERSIGN_JWT_KEY_FILE": str(tmp_path / "k.pem")}
    del env["COUNTERSIGN_JWKS_URL"]
    assert error_for(env).startswith("COUNTERSIGN_JWT_KEY_FILE: no such file:")


def test_plain_http_jwks_url_is_refused_off_loopback() -> None:
    """Keys fetched over plain http from another host could be swapped in transit."""
    env = {**IDP, "COUNTERSIGN_JWKS_URL": "http://idp.example.com/jwks"}
    assert "COUNTERSIGN_JWKS_URL: must use https" in error_for(env)


def test_plain_http_jwks_url_on_loopback_is_allowed() -> None:
    """A local test IdP on 127.0.0.1 may use http."""
    env = {**IDP, "COUNTERSIGN_JWKS_URL": "http://127.0.0.1:9400/jwks"}
    assert load_settings(env).identity.issuers[0].jwks_url == "http://127.0.0.1:9400/jwks"


def test_value_and_file_variant_together_are_refused(tmp_path: Path) -> None:
    """REDIS_PASSWORD and REDIS_PASSWORD_FILE both set: keep one."""
    secret = tmp_path / "p"
    secret.write_text("x")
    env = {"COUNTERSIGN_REDIS_PASSWORD": "y", "COUNTERSIGN_REDIS_PASSWORD_FILE": str(secret)}
    assert "set both COUNTERSIGN_REDIS_PASSWORD and COUNTERSIGN_REDIS_PASSWORD_FILE" in error_for(
        env
    )


def test_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    """A _FILE variant pointing nowhere names the _FILE variable."""
    env = {"COUNTERSIGN_REDIS_PASSWORD_FILE": str(tmp_path / "missing")}
    assert error_for(env).startswith("COUNTERSIGN_REDIS_PASSWORD_FILE: cannot read")


def test_bad_value_from_a_file_variant_names_it(tmp_path: Path) -> None:
    """A bad value read through PORT_FILE is reported against PORT_FILE."""
    port = tmp_path / "port"
    port.write_text("eighty\n")
    assert error_for({"COUNTERSIGN_PORT_FILE": str(port)}).startswith("COUNTERSIGN_PORT_FILE:")


def test_every_bad_setting_is_reported_at_once() -> None:
    """Two bad settings are both named, on the same single line."""
    text = error_for({"COUNTERSIGN_PORT": "x", "COUNTERSIGN_WORKERS": "y"})
    assert "COUNTERSIGN_PORT:" in text
    assert "COUNTERSIGN_WORKERS:" in text


def test_redis_url_is_never_echoed_in_errors() -> None:
    """A bad REDIS_URL may hold a password, so the message does not repeat it."""
    assert "hunter2" not in error_for({"COUNTERSIGN_REDIS_URL": "http://:hunter2@redis"})
