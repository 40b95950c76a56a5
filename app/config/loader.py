"""Settings: read once from `COUNTERSIGN_*` variables and an optional YAML file, then passed in.

`load_settings(os.environ)` returns a frozen `Settings` or raises `SettingsError`, whose text is
one line naming each bad variable and what is wrong with it. The environment wins over the file
(named by `COUNTERSIGN_CONFIG`); any setting can also be read from a file with `<NAME>_FILE`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from app.config import issuers, values
from app.config.channels import parse_channels
from app.config.errors import INVALID, BadValueError, SettingsError
from app.config.issuers import CLAIM_KEYS, ClaimNames
from app.config.service_tokens import file_service_tokens
from app.config.sessions import oidc
from app.config.settings import Settings
from app.config.spec import ALL_KEYS, BY_KEY, SPECS
from app.config.spec_base import PREFIX


class _YamlLoader(yaml.SafeLoader):
    """YAML with only true/false as booleans (YAML 1.2), so `yes` or `on` in the file is
    refused as it is in the environment, instead of quietly meaning true."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _parse_yaml(text: str) -> object:
    loader = _YamlLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class _Raw:
    value: object
    where: str


class _Loader:
    """Collects every problem instead of stopping at the first, then reports them on one line."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        # An empty variable counts as unset, as docker-compose and systemd users expect.
        self.env = {k: v for k, v in environ.items() if k.startswith(PREFIX) and v != ""}
        self.problems: list[tuple[str, str]] = []
        self.config_file: Path | None = None
        self.file: dict[str, object] = {}

    def bad(self, where: str, problem: str) -> None:
        self.problems.append((where, problem))

    @property
    def in_file(self) -> str:
        """How messages name the config file."""
        return f"in {self.config_file}"

    def read_config_file(self) -> None:
        name = self.env.get(PREFIX + "CONFIG")
        if name is None:
            return
        where = PREFIX + "CONFIG"
        self.config_file = Path(name)
        try:
            text = self.config_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.bad(where, f"cannot read {name}: {getattr(error, 'strerror', None) or error}")
            return
        try:
            data = _parse_yaml(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            self.bad(where, f"{name} is not valid YAML{at}")
            return
        if data is None:
            return
        if not isinstance(data, dict):
            self.bad(where, f"{name} must hold a mapping of settings")
            return
        for key, value in data.items():
            if value is None:  # `key:` with nothing after it reads as unset
                continue
            if key in ALL_KEYS or (
                isinstance(key, str) and key.endswith("_file") and key[:-5] in BY_KEY
            ):
                self.file[key] = value
            else:
                self.bad(f"{key} in {name}", "unknown setting" + values.suggest(str(key), ALL_KEYS))

    def check_unknown_variables(self) -> None:
        settings = {PREFIX + k.upper() for k in BY_KEY}
        names = settings | {PREFIX + "CONFIG"}
        for variable in sorted(self.env):
            if variable in names or variable.removesuffix("_FILE") in settings:
                continue
            self.bad(variable, "unknown setting" + values.suggest(variable, names))

    def raw(self, key: str) -> _Raw | None:
        """The value of one setting: environment first, then the file; `*_FILE` reads a file."""
        variable = PREFIX + key.upper()
        sources = (
            (self.env, variable, variable + "_FILE", ""),
            (self.file, key, key + "_file", f" {self.in_file}"),
        )
        for found, name, file_name, suffix in sources:
            if name in found and file_name in found:
                self.bad(name + suffix, f"set both {name} and {file_name}; keep one")
                return None
            if name in found:
                return _Raw(found[name], name + suffix)
            if file_name in found:
                try:
                    return _Raw(values.secret_file(found[file_name]), file_name + suffix)
                except BadValueError as error:
                    self.bad(file_name + suffix, str(error))
                    return None
        return None

    def value(self, key: str) -> tuple[Any, str | None]:
        """(parsed value or None when unset/bad, where it came from)."""
        spec = BY_KEY[key]
        raw = self.raw(key)
        if raw is None:
            return (spec.parse(spec.default) if spec.default is not None else None), None
        try:
            return spec.parse(raw.value), raw.where
        except BadValueError as error:
            self.bad(raw.where, str(error))
            return INVALID, raw.where


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build the settings once at start-up. Raises SettingsError listing every bad setting."""
    loader = _Loader(environ)
    loader.read_config_file()
    loader.check_unknown_variables()
    found: dict[str, Any] = {}
    origins: dict[str, str | None] = {}
    for spec in SPECS:
        found[spec.key], origins[spec.key] = loader.value(spec.key)

    _derive_local_urls(found)
    if found["login_url"] is None and found["public_url"] is not INVALID:
        found["login_url"] = found["public_url"] + "/login"
    if found["dev_users"] is None and found["policy_dir"] is not INVALID:
        found["dev_users"] = found["policy_dir"] / "dev-users.yaml"
    if found["redis_mode"] in ("sentinel", "cluster") and found["redis_url"] is None:
        loader.bad(
            PREFIX + "REDIS_URL",
            f"required with {PREFIX}REDIS_MODE={found['redis_mode']} "
            "(the embedded server is standalone only)",
        )
    claims = {role: found[key] for key, role in CLAIM_KEYS.items() if found[key] is not INVALID}
    trusted = issuers.shorthand_issuer(loader.bad, found, origins, claims)
    trusted += issuers.file_issuers(
        loader.bad,
        loader.file.get("issuers"),
        in_file=loader.in_file,
        claims=claims,
        algorithms=found["jwt_algorithms"],
    )
    issuers.check_duplicates(loader.bad, trusted)
    service_tokens = file_service_tokens(
        loader.bad, loader.file.get("service_tokens"), in_file=loader.in_file
    )
    signin = oidc(loader.bad, found, origins)
    channels = parse_channels(
        loader.file.get("notifications"),
        origin=str(loader.config_file),
        environ=environ,
        bad=loader.bad,
    )
    if loader.problems:
        raise SettingsError(*loader.problems)

    groups = _groups(found)
    groups["identity"].update(issuers=tuple(trusted), claims=ClaimNames(**claims))
    groups["access"]["service_tokens"] = service_tokens
    groups["notify"]["channels"] = channels
    return Settings.model_validate({**groups, "signin": signin, "config_file": loader.config_file})


def _groups(found: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The parsed rows, placed in their groups by each spec's `at`."""
    groups: dict[str, dict[str, Any]] = {}
    for spec in SPECS:
        if spec.at is None:
            continue
        group, field = spec.at.split(".")
        groups.setdefault(group, {})[field] = found[spec.key]
    return groups


def load_client_settings(environ: Mapping[str, str]) -> tuple[str, SecretStr | None]:
    """API_URL and API_TOKEN (or API_TOKEN_FILE) for the CLI's API commands. The server's
    settings are not read (a workstation calling a remote service has none of them), except
    PORT, from which API_URL's default comes."""
    loader = _Loader(environ)
    found: dict[str, Any] = {}
    for key in ("host", "port", "api_url", "api_token"):
        found[key], _ = loader.value(key)
    if loader.problems:
        raise SettingsError(*loader.problems)
    found["public_url"] = ""
    _derive_local_urls(found)
    return found["api_url"], found["api_token"]


def _derive_local_urls(found: dict[str, Any]) -> None:
    """PUBLIC_URL and API_URL default to this instance's own address, so setting PORT alone
    moves the dev issuer, the sign-in redirects and the CLI along with the server."""
    host, port = found["host"], found["port"]
    if host is INVALID or port is INVALID:  # already reported; nothing to derive from
        for key in ("public_url", "api_url"):
            if found[key] is None:
                found[key] = INVALID
        return
    if host in ("0.0.0.0", "::", "[::]", "*", ""):  # noqa: S104  (a wildcard: not an address to visit)
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if found["public_url"] is None:
        found["public_url"] = f"http://{host}:{port}"
    if found["api_url"] is None:
        found["api_url"] = f"http://127.0.0.1:{port}"
