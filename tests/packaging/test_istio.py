"""deploy/istio/: Countersign as Istio's CUSTOM authorizer over gRPC. Parsed, not run: valid
YAML, the fields Istio requires, fail-closed settings, and names and ports that agree with each
other, with the Kubernetes Service and with the shipped gRPC Envoy configuration."""

from __future__ import annotations

from typing import Any

import yaml

from tests.packaging.tools import DEPLOY, run, venv_tool

ISTIO = DEPLOY / "istio"
#: The fields only Istio's HTTP provider has; on envoyExtAuthzGrpc they would be refused.
HTTP_ONLY = frozenset(
    {
        "pathPrefix",
        "includeRequestHeadersInCheck",
        "headersToUpstreamOnAllow",
        "headersToDownstreamOnDeny",
    }
)
GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"


def _documents(name: str) -> list[dict[str, Any]]:
    path = ISTIO / name
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]


def _one(name: str, kind: str, resource: str) -> dict[str, Any]:
    found = [d for d in _documents(name) if d["kind"] == kind and d["metadata"]["name"] == resource]
    assert len(found) == 1, f"{name}: {kind}/{resource}: {len(found)} found"
    return found[0]


def _provider() -> dict[str, Any]:
    operator = _one("mesh-config.yaml", "IstioOperator", "countersign-ext-authz")
    (provider,) = operator["spec"]["meshConfig"]["extensionProviders"]
    return dict(provider)


def _service() -> dict[str, Any]:
    return _one("service-grpc.yaml", "Service", "countersign-grpc")


def test_the_mesh_provider_is_grpc_ext_authz_and_fails_closed() -> None:
    """envoyExtAuthzGrpc with a service, a port, a timeout, failOpen false and 403 on error."""
    grpc = _provider()["envoyExtAuthzGrpc"]
    assert isinstance(grpc["service"], str)
    assert isinstance(grpc["port"], int)
    assert grpc["timeout"].endswith("s")
    assert grpc["failOpen"] is False
    assert grpc["statusOnError"] == "403"
    assert not HTTP_ONLY.intersection(grpc)


def test_the_provider_names_the_grpc_service_and_its_port() -> None:
    """service is the Service's cluster name; port is its gRPC port."""
    service = _service()
    grpc = _provider()["envoyExtAuthzGrpc"]
    metadata = service["metadata"]
    assert grpc["service"] == f"{metadata['name']}.{metadata['namespace']}.svc.cluster.local"
    (port,) = service["spec"]["ports"]
    assert grpc["port"] == port["port"]
    assert port["name"].startswith("grpc")
    assert port["appProtocol"] == "grpc"


def test_the_grpc_service_selects_the_same_pods_on_the_shipped_port() -> None:
    """Same selector as deploy/kubernetes/service.yaml; the port envoy-grpc.yaml asks on."""
    http = yaml.safe_load((DEPLOY / "kubernetes" / "service.yaml").read_text("utf-8"))
    service = _service()
    assert service["spec"]["selector"] == http["spec"]["selector"]
    assert service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    envoy = (DEPLOY / "envoy" / "envoy-grpc.yaml").read_text("utf-8")
    assert f"port_value: {port['targetPort']} " in envoy


def test_the_gateway_asks_countersign_about_every_host_but_its_own() -> None:
    """A CUSTOM policy on the ingress gateway, naming the provider, skipping only
    Countersign's public host (its pages must load unchecked)."""
    policy = _one("authorization-policy.yaml", "AuthorizationPolicy", "countersign")
    spec = policy["spec"]
    assert spec["action"] == "CUSTOM"
    assert spec["provider"]["name"] == _provider()["name"]
    assert spec["selector"]["matchLabels"] == {"istio": "ingressgateway"}
    (rule,) = spec["rules"]
    assert set(rule) == {"to"}
    (target,) = rule["to"]
    assert set(target["operation"]) == {"notHosts"}
    assert "auth.example.com" in target["operation"]["notHosts"]


def test_only_the_gateway_may_call_the_check() -> None:
    """The ALLOW policy on Countersign's pods opens the gRPC port to the gateway alone."""
    policy = _one("authorization-policy.yaml", "AuthorizationPolicy", "countersign-check-callers")
    spec = policy["spec"]
    (port,) = _service()["spec"]["ports"]
    assert spec["action"] == "ALLOW"
    assert spec["selector"]["matchLabels"] == _service()["spec"]["selector"]
    grpc_rules = [
        rule
        for rule in spec["rules"]
        if any(str(port["port"]) in t["operation"].get("ports", []) for t in rule["to"])
    ]
    (rule,) = grpc_rules
    assert rule["from"] == [{"source": {"principals": [GATEWAY]}}]


def test_the_service_is_valid_kubernetes() -> None:
    """`kubernetes-validate --strict` passes the Service (the Istio kinds are CRDs)."""
    validator = venv_tool("kubernetes-validate", "kubernetes-validate")
    output = run([validator, "--strict", str(ISTIO / "service-grpc.yaml")])
    assert output.count(" passed for resource ") == 1
