"""Redirect targets: Countersign's own pages and protected hosts only (no open redirect)."""

from __future__ import annotations

import pytest

from app.core.policy.compile import Source, compile_policy_set
from app.core.redirects import is_safe_redirect

POLICIES = compile_policy_set(
    [
        Source(
            "a.yaml",
            "application: {id: a, hosts: [grafana.example.com, '*.apps.example.com']}\n"
            "policies: [{name: p, action: allow, include: [{everyone: true}]}]\n",
        )
    ]
)


def safe(url: str) -> bool:
    return is_safe_redirect(url, policy_set=POLICIES, public_host="auth.example.com")


@pytest.mark.parametrize(
    "url",
    [
        "https://grafana.example.com/d/1?x=%2F",
        "http://grafana.example.com:8443/",
        "https://team.apps.example.com/",
        "https://auth.example.com/request?app=a",
        "/request?app=a",
    ],
)
def test_protected_hosts_and_own_pages_are_safe(url: str) -> None:
    """Protected hosts (exact or wildcard), our own host and local paths are allowed."""
    assert safe(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example",
        "//evil.example",
        "https:/\\evil.example",
        "/\\evil.example",
        "https://grafana.example.com@evil.example/",
        "javascript:alert(1)",
        "https://evil.example/grafana.example.com",
        "https://grafana.example.com.evil.example/",
        "https://apps.example.com/",
        "https:grafana.example.com",
        "https://grafana.example.com/\r\nSet-Cookie: x",
        "ftp://grafana.example.com/",
        "",
        "https://grafana.example.com/" + "a" * 5000,
    ],
)
def test_other_sites_and_tricks_are_refused(url: str) -> None:
    """Other sites, scheme-relative and backslash tricks, user info and control bytes fail."""
    assert not safe(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://grafana.example.com:8443/d/1?x=1",
        "https://Grafana.Example.COM:8443/",
        "http://grafana.example.com:8080/x",
        "http://grafana.example.com:443/x",
        "https://team.apps.example.com:9443/",
        "https://auth.example.com:8443/request?app=a",
        "https://grafana.example.com.:8443/",
    ],
)
def test_protected_host_with_a_port_is_safe(url: str) -> None:
    """An `rd` that kept its non-default port (as forward-auth now builds it) is accepted."""
    assert safe(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example:8443/",
        "https://grafana.example.com:8443@evil.example/",
        "https://grafana.example.com:8443.evil.example/",
        "https://grafana.example.com:0/",
        "https://grafana.example.com:65536/",
        "https://grafana.example.com:/",
        "https://grafana.example.com:84x3/",
        "https://grafana.example.com:8443:1/",
        "https://grafana.example.com: 8443/",
        "https://grafana.example.com:8443\\@evil.example/",
        "//grafana.example.com:8443/",
        "https://apps.example.com:8443/",
    ],
)
def test_ports_do_not_open_a_redirect(url: str) -> None:
    """A port never makes another host, bad port or user-info trick acceptable."""
    assert not safe(url)
