"""A client certificate passed in a header, as each proxy spells it, gives its SHA-256."""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.adapters.signals.certificate import MAX_HEADER_CHARS, certificate_fingerprint
from app.adapters.signals.device import DeviceResolver, load_inventory
from app.core.context import UNKNOWN_DEVICE


def make_certificate(name: str = "alice-laptop") -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


CERT = make_certificate()
DER = CERT.public_bytes(serialization.Encoding.DER)
PEM = CERT.public_bytes(serialization.Encoding.PEM).decode()
FINGERPRINT = hashlib.sha256(DER).hexdigest()
BODY = base64.b64encode(DER).decode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(quote(PEM, safe=""), id="nginx-escaped-pem"),
        pytest.param(quote(PEM), id="envoy-escaped-pem"),
        pytest.param(BODY, id="traefik-pem-body"),
        pytest.param(quote(BODY, safe=""), id="traefik-escaped-pem-body"),
        pytest.param(f"{BODY},{base64.b64encode(b'chain').decode()}", id="traefik-chain"),
        pytest.param(PEM.replace("\n", " "), id="pem-on-one-line"),
    ],
)
def test_every_proxy_spelling_gives_the_der_sha256(value: str) -> None:
    """nginx, Traefik, Envoy and Caddy spellings all give the SHA-256 of the leaf's DER."""
    assert certificate_fingerprint(value) == FINGERPRINT


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("not a certificate", id="words"),
        pytest.param(base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), id="not-x509"),
        pytest.param(base64.b64encode(DER + b"\x00").decode(), id="trailing-bytes"),
        pytest.param(BODY[:-8], id="truncated"),
        pytest.param(BODY.replace("A", "*", 1), id="bad-base64"),
        pytest.param("%ff%fe", id="bad-escape"),
        pytest.param("-----BEGIN CERTIFICATE-----" + BODY, id="no-end-line"),
        pytest.param("A" * (MAX_HEADER_CHARS + 4), id="too-long"),
        pytest.param(FINGERPRINT, id="a-fingerprint-is-not-a-certificate"),
    ],
)
def test_junk_is_no_certificate(value: str) -> None:
    """Anything but one well-formed certificate gives None."""
    assert certificate_fingerprint(value) is None


@pytest.fixture
def resolver(tmp_path: Path) -> DeviceResolver:
    path = tmp_path / "devices.yaml"
    path.write_text(f'devices:\n  "{FINGERPRINT}": {{id: alice-laptop, managed: true}}\n')
    return DeviceResolver(inventory=load_inventory(path))


def test_a_verified_certificate_header_finds_the_device(resolver: DeviceResolver) -> None:
    """nginx's escaped certificate with SUCCESS finds ALICE's laptop in the inventory."""
    headers = {"x-client-verify": "SUCCESS", "x-client-cert": quote(PEM, safe="")}
    assert resolver.resolve(headers, None, peer_trusted=True).device_id == "alice-laptop"


def test_the_certificate_header_wins_over_the_fingerprint_header(
    resolver: DeviceResolver,
) -> None:
    """A junk certificate next to a listed fingerprint is no certificate: unknown device."""
    headers = {
        "x-client-verify": "SUCCESS",
        "x-client-cert": "junk",
        "x-client-cert-fingerprint": FINGERPRINT,
    }
    assert resolver.resolve(headers, None, peer_trusted=True) == UNKNOWN_DEVICE


def test_an_unverified_certificate_header_is_ignored(resolver: DeviceResolver) -> None:
    """Without SUCCESS the certificate does not count."""
    headers = {"x-client-verify": "NONE", "x-client-cert": quote(PEM, safe="")}
    assert resolver.resolve(headers, None, peer_trusted=True) == UNKNOWN_DEVICE


def test_certificate_header_from_an_untrusted_peer_is_ignored(resolver: DeviceResolver) -> None:
    """A client sending the certificate header itself gets an unknown device."""
    headers = {"x-client-verify": "SUCCESS", "x-client-cert": quote(PEM, safe="")}
    assert resolver.resolve(headers, None, peer_trusted=False) == UNKNOWN_DEVICE


def test_the_cert_header_name_is_configurable(tmp_path: Path) -> None:
    """COUNTERSIGN_MTLS_CERT_HEADER=X-Forwarded-Tls-Client-Cert reads Traefik's header."""
    path = tmp_path / "devices.yaml"
    path.write_text(f'devices:\n  "{FINGERPRINT}": {{id: alice-laptop, managed: true}}\n')
    resolver = DeviceResolver(
        inventory=load_inventory(path), cert_header="X-Forwarded-Tls-Client-Cert"
    )
    headers = {"x-client-verify": "SUCCESS", "x-forwarded-tls-client-cert": quote(BODY, safe="")}
    assert resolver.resolve(headers, None, peer_trusted=True).managed
