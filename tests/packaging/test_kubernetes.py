"""deploy/kubernetes/: valid against the Kubernetes API schemas (kubernetes-validate, offline),
and wired together the way the brief for a production deployment asks: two replicas, probes on
/healthz and /readyz, resources, a locked-down security context, secrets as files, a PDB, a
NetworkPolicy and an ingress-nginx auth-url pointing at the Service."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.settings_names import is_setting, unknown_settings
from tests.packaging.tools import DEPLOY, ROOT, run, venv_tool
from tests.support import components

KUBERNETES = DEPLOY / "kubernetes"
FILES = sorted(KUBERNETES.glob("*.yaml"))
#: The user the Dockerfile runs as.
IMAGE_USER = 10001


def _documents() -> list[dict[str, Any]]:
    return [
        document
        for path in FILES
        for document in yaml.safe_load_all(path.read_text("utf-8"))
        if document
    ]


def _one(kind: str, name: str = "countersign") -> dict[str, Any]:
    found = [d for d in _documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _pod() -> dict[str, Any]:
    pod: dict[str, Any] = _one("Deployment")["spec"]["template"]
    return pod


def _container() -> dict[str, Any]:
    (container,) = _pod()["spec"]["containers"]
    return dict(container)


def test_every_manifest_is_valid_against_the_kubernetes_schemas() -> None:
    """`kubernetes-validate --strict` (unknown fields refused) passes every resource."""
    validator = venv_tool("kubernetes-validate", "kubernetes-validate")
    output = run([validator, "--strict", *map(str, FILES)])
    assert output.count(" passed for resource ") == len(_documents())


def test_the_validator_refuses_a_broken_manifest(tmp_path: Path) -> None:
    """The check above has teeth: a misspelt field and a wrong type are reported."""
    validator = venv_tool("kubernetes-validate", "kubernetes-validate")
    broken = (KUBERNETES / "deployment.yaml").read_text("utf-8")
    broken = broken.replace("replicas: 2", "replicas: two")
    (tmp_path / "deployment.yaml").write_text(broken)
    result = subprocess.run(
        [validator, "--strict", str(tmp_path / "deployment.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "spec.replicas" in result.stdout + result.stderr


def test_two_replicas_that_never_all_go_at_once() -> None:
    """Two replicas, a rolling update that keeps both serving, a PDB keeping one, spread over
    nodes: every protected request needs an answer."""
    spec = _one("Deployment")["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pdb = _one("PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1
    labels = _pod()["metadata"]["labels"]
    for selector in (
        pdb["selector"]["matchLabels"],
        _one("Service")["spec"]["selector"],
        _one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
        spec["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()


def test_probes_ask_healthz_and_readyz() -> None:
    """Liveness and start-up on /healthz (process up), readiness on /readyz (policy loaded,
    Redis reachable), on the named container port."""
    container = _container()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {port["name"] for port in container["ports"]}
    for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in ports


def test_resources_and_a_restricted_security_context() -> None:
    """Requests and limits are set; the pod runs as the image's non-root user with a read-only
    root filesystem, no privilege escalation, no capabilities and the runtime's seccomp
    profile; no service account token is mounted."""
    container = _container()
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]
    pod = _pod()["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == IMAGE_USER
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert f"USER {IMAGE_USER}:{IMAGE_USER}" in dockerfile


def test_secrets_are_files_from_secrets() -> None:
    """Each `*_FILE` setting names a file under a mounted Secret volume; no secret value sits
    in an env var or a ConfigMap."""
    container = _container()
    volumes = {volume["name"]: volume for volume in _pod()["spec"]["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    files = {e["name"]: e["value"] for e in container["env"] if e["name"].endswith("_FILE")}
    assert {
        "COUNTERSIGN_SESSION_KEY_FILE",
        "COUNTERSIGN_OIDC_CLIENT_SECRET_FILE",
        "COUNTERSIGN_REDIS_URL_FILE",
    } <= files.keys()
    for name, path in files.items():
        mount = next(m for m in mounts if path.startswith(m + "/"))
        assert "secret" in mounts[mount], f"{name} is not read from a Secret"
    settings = _one("ConfigMap", "countersign-settings")["data"]
    secret_names = ("SESSION_KEY", "SECRET", "PASSWORD", "TOKEN", "REDIS_URL")
    assert [key for key in settings if any(part in key for part in secret_names)] == []


def test_every_setting_named_is_a_real_setting() -> None:
    """Every COUNTERSIGN_* name in the manifests is one Countersign reads."""
    container = _container()
    names = [e["name"] for e in container["env"]]
    names += list(_one("ConfigMap", "countersign-settings")["data"])
    assert [name for name in names if not is_setting(name)] == []
    text = "\n".join(path.read_text("utf-8") for path in FILES)
    assert unknown_settings(text) == []


def test_the_policy_configmap_is_a_valid_policy_set(tmp_path: Path) -> None:
    """The ConfigMap, laid out as the Deployment mounts it, passes `countersign policy check`."""
    policies = _one("ConfigMap", "countersign-policies")["data"]
    (volume,) = [v for v in _pod()["spec"]["volumes"] if v["name"] == "policies"]
    for item in volume["configMap"]["items"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(policies[item["key"]])
    assert {item["key"] for item in volume["configMap"]["items"]} == set(policies)
    output = run([components.countersign(), "policy", "check", str(tmp_path)])
    assert "error" not in output.lower()
    mount = next(m for m in _container()["volumeMounts"] if m["name"] == "policies")
    settings = _one("ConfigMap", "countersign-settings")["data"]
    assert settings["COUNTERSIGN_POLICY_DIR"] == mount["mountPath"]


def test_the_ingress_asks_countersign_and_hides_its_private_paths() -> None:
    """The protected Ingress's auth-url is the Service's /auth/nginx; its sign-in URL carries
    `rd` (so ingress-nginx adds none) and the application id; the public Ingress of
    Countersign routes none of /metrics, /readyz, /healthz, /auth."""
    service = _one("Service")
    port = service["spec"]["ports"][0]["port"]
    annotations = _one("Ingress", "grafana")["metadata"]["annotations"]
    namespace = service["metadata"]["namespace"]
    expected = f"http://countersign.{namespace}.svc.cluster.local:{port}/auth/nginx"
    assert annotations["nginx.ingress.kubernetes.io/auth-url"] == expected
    signin = annotations["nginx.ingress.kubernetes.io/auth-signin"]
    assert re.search(r"[?&]app=grafana(&|$)", signin)
    assert "&rd=" in signin
    headers = annotations["nginx.ingress.kubernetes.io/auth-response-headers"].split(",")
    assert "X-Countersign-Assertion" in headers
    assert "X-Auth-Request-User" in headers
    public = _one("Ingress")["spec"]["rules"][0]["http"]["paths"]
    routed = [path["path"] for path in public]
    for private in ("/metrics", "/readyz", "/healthz", "/auth"):
        assert not any(private.startswith(path) and path != "/" for path in routed), private
    assert next(p for p in public if p["path"] == "/")["pathType"] == "Exact"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_each_file_says_what_it_is_for(path: Path) -> None:
    """Every manifest opens with a comment for the operator who reads it."""
    assert path.read_text("utf-8").startswith("#")
