"""The example policy directory ships the dev login's personas in a shape the login reads."""

from __future__ import annotations

from pathlib import Path

from app.adapters.dev.users import load_dev_users

DEV_USERS = Path(__file__).resolve().parents[1] / "policy_rules" / "dev-users.yaml"


def test_dev_users_load_without_problems() -> None:
    """Every entry of dev-users.yaml is accepted by the dev login."""
    assert load_dev_users(DEV_USERS).problems == ()


def test_dev_users_are_the_story_personas() -> None:
    """Alice, Bob, Carol, Dave and Mallory are there, each with groups, amr and a country."""
    users = {user.name: user for user in load_dev_users(DEV_USERS).users}
    assert sorted(users) == ["Alice", "Bob", "Carol", "Dave", "Mallory"]
    assert all(
        u.groups and u.amr and u.country and u.device_managed is not None for u in users.values()
    )


def test_bob_is_an_sre_lead_on_a_managed_device() -> None:
    """Bob goes straight into Grafana and approves others' requests."""
    bob = load_dev_users(DEV_USERS).find("bob@example.com")
    assert bob is not None
    assert {"sre", "sre-leads"} <= set(bob.groups)
    assert bob.device_managed is True


def test_mallory_is_a_contractor_on_a_personal_device() -> None:
    """Mallory is in contractors, off example.com, and her laptop is not managed."""
    mallory = load_dev_users(DEV_USERS).find("mallory@partner.example.net")
    assert mallory is not None
    assert mallory.groups == ("contractors",)
    assert mallory.device_managed is False
