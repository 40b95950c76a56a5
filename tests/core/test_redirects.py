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
