"""Device posture: verified client certificate in the inventory, else token claims, else unknown."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from app.adapters.signals.device import DeviceResolver, load_inventory, normalise_fingerprint
from app.config import SettingsError
from app.config.issuers import ClaimNames
from app.core.context import UNKNOWN_DEVICE, Device, Identity

ALICE_LAPTOP = "3F:A1:" + "0" * 58 + "9c"  # as nginx/openssl print it: upper-case with colons
ALICE_LAPTOP_HEX = ("3fa1" + "0" * 58 + "9c").lower()
INVENTORY = f"""
devices:
  "{ALICE_LAPTOP}": {{id: alice-laptop, managed: true, tags: [disk-encrypted, os-current]}}
  "{"ab" * 32}": {{id: kiosk, managed: false}}
"""


def identity(**claims: object) -> Identity:
    return Identity(subject="u-alice", claims=MappingProxyType(dict(claims)), issuer="https://idp")


@pytest.fixture
def resolver(tmp_path: Path) -> DeviceResolver:
    path = tmp_path / "devices.yaml"
    path.write_text(INVENTORY)
    return DeviceResolver(inventory=load_inventory(path))


def mtls(fingerprint: str = ALICE_LAPTOP, verify: str = "SUCCESS") -> dict[str, str]:
    return {"x-client-verify": verify, "x-client-cert-fingerprint": fingerprint}


def test_alices_verified_laptop_is_managed(resolver: DeviceResolver) -> None:
    """A verified certificate found in the inventory gives its posture and id."""
    device = resolver.resolve(mtls(), None, peer_trusted=True)
    assert device == Device(
        managed=True, tags=frozenset({"disk-encrypted", "os-current"}), device_id="alice-laptop"
    )


def test_fingerprint_spelling_does_not_matter(resolver: DeviceResolver) -> None:
    """Lower-case hex without colons finds the same device."""
    device = resolver.resolve(mtls(ALICE_LAPTOP_HEX), None, peer_trusted=True)
    assert device.device_id == "alice-laptop"


def test_certificate_headers_from_an_untrusted_peer_are_ignored(resolver: DeviceResolver) -> None:
    """MALLORY sending the mTLS headers herself gets an unknown device."""
    assert resolver.resolve(mtls(), None, peer_trusted=False) == UNKNOWN_DEVICE


def test_failed_verification_is_not_a_device(resolver: DeviceResolver) -> None:
    """`FAILED:...` from the proxy does not count, even with a known fingerprint."""
    assert resolver.resolve(mtls(verify="FAILED:expired"), None, peer_trusted=True) == (
        UNKNOWN_DEVICE
    )


def test_unlisted_certificate_falls_back_to_claims(resolver: DeviceResolver) -> None:
    """A verified but unknown certificate leaves the decision to the token's claims."""
    device = resolver.resolve(
        mtls("cd" * 32), identity(device_managed=True, device_tags=["x"]), peer_trusted=True
    )
    assert device == Device(managed=True, tags=frozenset({"x"}))


def test_sha1_fingerprint_is_not_accepted() -> None:
    """Only SHA-256 fingerprints (64 hex digits) are read."""
    assert normalise_fingerprint("a" * 40) is None


def test_managed_claim_must_be_json_true() -> None:
    """`"true"` (a string) does not make a device managed; tags are still read."""
    device = DeviceResolver().resolve(
        {}, identity(device_managed="true", device_tags=("a",)), peer_trusted=False
    )
    assert device == Device(managed=False, tags=frozenset({"a"}))


def test_no_signal_is_an_unknown_device() -> None:
    """With neither certificate nor claims, the device is unknown and unmanaged."""
    assert DeviceResolver().resolve({}, identity(), peer_trusted=True) == UNKNOWN_DEVICE


def test_claim_names_follow_the_tokens_issuer() -> None:
    """Each issuer's configured device claim names are used for its tokens."""
    names = ClaimNames(device_managed="mdm_enrolled", device_tags="posture")
    resolver = DeviceResolver(claims_by_issuer={"https://idp": names})
    device = resolver.resolve({}, identity(mdm_enrolled=True, posture=["av"]), peer_trusted=False)
    assert device == Device(managed=True, tags=frozenset({"av"}))


def test_missing_inventory_fails_at_start(tmp_path: Path) -> None:
    """A DEVICE_INVENTORY that does not exist is a one-line SettingsError."""
    with pytest.raises(SettingsError, match=r"^COUNTERSIGN_DEVICE_INVENTORY: no such file"):
        load_inventory(tmp_path / "none.yaml")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("devices: [a, b]", "needs a 'devices:' mapping"),
        ("devices:\n  zz: {managed: true}", "not a SHA-256 fingerprint"),
        (f"devices:\n  '{'ab' * 32}': {{managed: yes please}}", "managed must be true or false"),
        (f"devices:\n  '{'ab' * 32}': {{managed: true, tag: [x]}}", "unknown key 'tag'"),
        (f"devices:\n  '{'ab' * 32}': {{}}\n  '{'AB' * 32}': {{}}", "listed twice"),
        ("devices: {a: [}", "not valid YAML"),
    ],
)
def test_bad_inventory_fails_at_start(tmp_path: Path, text: str, problem: str) -> None:
    """Each kind of broken inventory is refused with a line that says what is wrong."""
    path = tmp_path / "devices.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_inventory(path)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_tokens_claimed_device_is_worked_out_once_per_identity() -> None:
    """The token cache hands out one Identity per token: its device is read from its claims
    once, and a new token (another Identity, other claims) gets its own."""
    resolver = DeviceResolver()
    bob = identity(device_managed=True, device_tags=["disk-encrypted"])
    first = resolver.resolve({}, bob, peer_trusted=False)
    assert resolver.resolve({}, bob, peer_trusted=False) is first
    assert first == Device(managed=True, tags=frozenset({"disk-encrypted"}))
    renewed = identity(device_managed=False)
    assert resolver.resolve({}, renewed, peer_trusted=False) == Device(managed=False)
    assert resolver.resolve({}, None, peer_trusted=False) == UNKNOWN_DEVICE
