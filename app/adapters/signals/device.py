"""Device posture: a client certificate the trusted proxy verified and the inventory knows, else
the device claims of the verified token, else an unknown (unmanaged) device.

The proxy says the certificate was verified in the verify header (`SUCCESS`) and names it either
by the certificate itself (the certificate header, e.g. nginx `$ssl_client_escaped_cert`; its
SHA-256 is computed here) or by its SHA-256 fingerprint (the fingerprint header). When the
certificate header is present it alone counts: an unreadable one is no certificate.

Inventory file (YAML), keyed by the certificate's SHA-256 fingerprint (colons and case ignored):

    devices:
      "3f:a1:...:9c": {id: alice-laptop, managed: true, tags: [disk-encrypted]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from app.adapters.signals.certificate import certificate_fingerprint
from app.config import SettingsError
from app.config.issuers import ClaimNames
from app.config.settings import IdentitySettings, SignalSettings
from app.core.context import UNKNOWN_DEVICE, Device, Identity

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_SEPARATORS = re.compile(r"[:\s-]")
#: Identities whose claimed device is remembered (about as many as the token cache holds);
#: cleared when full, so a flood of tokens costs memory only up to this bound.
IDENTITIES_KEPT = 10_000


def normalise_fingerprint(value: str) -> str | None:
    """Lower-case hex without separators; None unless it is a SHA-256 (64 hex digits)."""
    text = _SEPARATORS.sub("", value.strip().lower())
    return text if _SHA256_HEX.match(text) else None


def load_inventory(
    path: Path, *, setting: str = "COUNTERSIGN_DEVICE_INVENTORY"
) -> dict[str, Device]:
    """Read the inventory once at start-up; any problem raises a one-line SettingsError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError((setting, f"no such file: {path}")) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError((setting, f"cannot read {path}: {error}")) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise SettingsError((setting, f"{path} is not valid YAML{at}")) from None
    devices = data.get("devices") if isinstance(data, dict) else None
    if not isinstance(devices, dict):
        raise SettingsError((setting, f"{path} needs a 'devices:' mapping of fingerprints"))
    inventory: dict[str, Device] = {}
    for raw_fingerprint, entry in devices.items():
        where = f"{path}: devices[{str(raw_fingerprint)[:24]!r}]"
        fingerprint = normalise_fingerprint(str(raw_fingerprint))
        if fingerprint is None:
            raise SettingsError((setting, f"{where} is not a SHA-256 fingerprint (64 hex digits)"))
        if fingerprint in inventory:
            raise SettingsError((setting, f"{where} is listed twice"))
        inventory[fingerprint] = _device(entry, where=where, setting=setting)
    return inventory


def _device(entry: object, *, where: str, setting: str) -> Device:
    if not isinstance(entry, dict):
        raise SettingsError((setting, f"{where} must be a mapping with id, managed and tags"))
    unknown = set(entry) - {"id", "managed", "tags"}
    if unknown:
        raise SettingsError((setting, f"{where} has unknown key {sorted(map(str, unknown))[0]!r}"))
    device_id, managed, tags = entry.get("id"), entry.get("managed", False), entry.get("tags", [])
    if device_id is not None and not isinstance(device_id, str | int):
        raise SettingsError((setting, f"{where}.id must be text"))
    if not isinstance(managed, bool):
        raise SettingsError((setting, f"{where}.managed must be true or false"))
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise SettingsError((setting, f"{where}.tags must be a list of names"))
    return Device(
        managed=managed,
        tags=frozenset(tags),
        device_id=str(device_id) if device_id is not None else None,
    )


def device_from_claims(identity: Identity | None, names: ClaimNames) -> Device | None:
    """Posture the token asserts: managed only for a JSON `true`, tags only from a string list."""
    if identity is None:
        return None
    managed = identity.claims.get(names.device_managed)
    tags = identity.claims.get(names.device_tags)
    if managed is None and tags is None:
        return None
    tag_set = (
        frozenset(t for t in tags if isinstance(t, str) and t)
        if isinstance(tags, list | tuple)
        else frozenset()
    )
    return Device(managed=managed is True, tags=tag_set)


class DeviceResolver:
    """Device posture for one request; built once with the inventory loaded."""

    def __init__(
        self,
        *,
        inventory: Mapping[str, Device] | None = None,
        verify_header: str = "x-client-verify",
        fingerprint_header: str = "x-client-cert-fingerprint",
        cert_header: str = "x-client-cert",
        default_claims: ClaimNames | None = None,
        claims_by_issuer: Mapping[str, ClaimNames] | None = None,
    ) -> None:
        self._inventory = dict(inventory or {})
        self._verify_header = verify_header.lower()
        self._fingerprint_header = fingerprint_header.lower()
        self._cert_header = cert_header.lower()
        self._default_claims = default_claims or ClaimNames()
        self._claims_by_issuer = dict(claims_by_issuer or {})
        self._by_identity: dict[int, tuple[Identity, Device]] = {}

    @classmethod
    def from_settings(
        cls, settings: SignalSettings, *, identity: IdentitySettings
    ) -> DeviceResolver:
        """Inventory from COUNTERSIGN_DEVICE_INVENTORY; claim names per configured issuer."""
        inventory = load_inventory(settings.device_inventory) if settings.device_inventory else {}
        return cls(
            inventory=inventory,
            verify_header=settings.mtls_verify_header,
            fingerprint_header=settings.mtls_fingerprint_header,
            cert_header=settings.mtls_cert_header,
            default_claims=identity.claims,
            claims_by_issuer={entry.issuer: entry.claims for entry in identity.issuers},
        )

    def resolve(
        self, headers: Mapping[str, str], identity: Identity | None, *, peer_trusted: bool
    ) -> Device:
        """The inventory entry for a verified client certificate, else token claims, else
        unknown. Certificate headers from anyone but a trusted proxy are ignored."""
        if peer_trusted and self._inventory:
            verified = headers.get(self._verify_header, "").strip()
            fingerprint = self._fingerprint(headers) if verified == "SUCCESS" else None
            if fingerprint is not None:
                device = self._inventory.get(fingerprint)
                if device is not None:
                    return device
        if identity is None:
            return UNKNOWN_DEVICE
        return self._claimed(identity)

    def _claimed(self, identity: Identity) -> Device:
        """The device the identity's token claims, worked out once per verified identity: the
        token cache hands out the same Identity for every request with one token (held here,
        so its id is not reused while the entry lives)."""
        known = self._by_identity.get(id(identity))
        if known is not None and known[0] is identity:
            return known[1]
        names = self._claims_by_issuer.get(identity.issuer, self._default_claims)
        device = device_from_claims(identity, names) or UNKNOWN_DEVICE
        if len(self._by_identity) >= IDENTITIES_KEPT:
            self._by_identity.clear()
        self._by_identity[id(identity)] = (identity, device)
        return device

    def _fingerprint(self, headers: Mapping[str, str]) -> str | None:
        """From the certificate header when the proxy sent one, else the fingerprint header."""
        certificate = headers.get(self._cert_header)
        if certificate is not None and certificate.strip():
            return certificate_fingerprint(certificate)
        return normalise_fingerprint(headers.get(self._fingerprint_header, ""))
