"""The people of the dev login, from `dev-users.yaml` in the policy directory:

    users:
      - {email: alice@example.com, name: Alice, groups: [engineering], amr: [pwd, mfa],
         device: {managed: true, tags: [disk-encrypted]}, country: DE}

Read on every page view so edits show at once; a missing or broken file is reported on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True, slots=True)
class DevUser:
    """One person who can be signed in as, with the claims their token will carry."""

    email: str
    name: str = ""
    groups: tuple[str, ...] = ()
    amr: tuple[str, ...] = ()
    device_managed: bool | None = None
    device_tags: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True, slots=True)
class DevUsers:
    """The usable users, and what was wrong with the file (shown on the page), if anything."""

    users: tuple[DevUser, ...]
    problems: tuple[str, ...] = ()

    def find(self, email: str) -> DevUser | None:
        """The user with this email (case-insensitive)."""
        wanted = email.strip().lower()
        return next((user for user in self.users if user.email == wanted), None)


def _names(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what} must be a list of names")
    return tuple(value)


def _user(entry: object) -> DevUser:
    if not isinstance(entry, dict):
        raise ValueError("must be a mapping with at least an email")
    email = entry.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ValueError("needs an email address")
    name = entry.get("name") or ""
    device = entry.get("device") or {}
    if not isinstance(device, dict):
        raise ValueError("device must be a mapping with managed and tags")
    managed = device.get("managed")
    if managed is not None and not isinstance(managed, bool):
        raise ValueError("device.managed must be true or false")
    country = entry.get("country")
    if country is not None and not isinstance(country, str):
        raise ValueError("country must be a two-letter code; quote NO as 'NO'")
    return DevUser(
        email=email.strip().lower(),
        name=str(name),
        groups=_names(entry.get("groups"), "groups"),
        amr=_names(entry.get("amr"), "amr"),
        device_managed=managed,
        device_tags=_names(device.get("tags"), "device.tags"),
        country=country.strip().upper() if country else None,
    )


def load_dev_users(path: Path) -> DevUsers:
    """Never raises: problems come back as text for the page."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DevUsers((), (f"{path} does not exist yet; add users there to sign in as them.",))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return DevUsers((), (f"{path} cannot be read: {type(error).__name__}",))
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return DevUsers((), (f"{path} needs a 'users:' list.",))
    users: list[DevUser] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            user = _user(entry)
        except ValueError as error:
            problems.append(f"{path}: users[{i}] {error}")
            continue
        if user.email in seen:
            problems.append(f"{path}: users[{i}] repeats {user.email}")
            continue
        seen.add(user.email)
        users.append(user)
    return DevUsers(tuple(users), tuple(problems))
