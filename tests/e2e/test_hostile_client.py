"""A hostile client through each shipped proxy configuration.

It sends every signal, identity and forwarding header it could forge, Countersign's own session
cookie and a bearer token. None of them may change a decision, none may reach the application
(the echo backend shows what arrived), and Countersign's operational endpoints (/metrics,
/readyz, /healthz, the /auth/* decision oracle) are not reachable on its public host.

The service under test trusts the proxies (loopback) and is configured with a device inventory
that lists `managed_device` and with CF-IPCountry as its country header, so a forged value that
reached it would be believed: `test_forged_signals_would_be_believed_if_they_reached_countersign`
proves it, by calling the service directly.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.support.backend import SeenRequest
from tests.support.countersign import ManagedDevice, RunningCountersign
from tests.support.gate import SESSION_COOKIE, Gate
from tests.support.personas import Tokens
from tests.support.proxies import PUBLIC_HOST

pytestmark = pytest.mark.e2e

#: Identity headers applications and peers trust, that Countersign never sets.
FOREIGN_IDENTITY = {
    "X-Forwarded-User": "bob",
    "X-Forwarded-Email": "bob@example.com",
    "X-Forwarded-Groups": "admins",
    "X-Forwarded-Preferred-Username": "bob",
    "X-Forwarded-Access-Token": "forged",
    "X-Auth-Request-Preferred-Username": "bob",
    "X-Auth-Request-Access-Token": "forged",
    "X-WEBAUTH-USER": "bob",
    "Remote-User": "bob",
    "Remote-Groups": "admins",
    "Remote-Email": "bob@example.com",
    "Remote-Name": "Bob",
    "X-Remote-User": "bob",
    "X-Remote-Group": "admins",
}
#: The identity headers Countersign sets on allow; the application gets only its values.
COUNTERSIGN_IDENTITY = {
    "X-Auth-Request-User": "bob",
    "X-Auth-Request-Email": "bob@example.com",
    "X-Auth-Request-Groups": "admins",
    # An unsigned (alg none) assertion naming BOB.
    "X-Countersign-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IiLCJhdWQiOiJvcGVuIn0.",
}
#: Spellings some application servers fold into the real names (CGI: `-`, `_`, `.` alike).
IDENTITY_SPELLINGS = {
    name.replace("-", sep): value
    for name, value in {**FOREIGN_IDENTITY, **COUNTERSIGN_IDENTITY}.items()
    for sep in "_."
}
#: Country headers CDNs and GeoIP modules set; CF-IPCountry is the one the service reads.
COUNTRY_HEADERS = (
    "CF-IPCountry",
    "X-Country-Code",
    "X-GeoIP-Country",
    "X-GeoIP-Country-Code",
    "X-Country",
    "GeoIP-Country-Code",
    "CloudFront-Viewer-Country",
    "X-AppEngine-Country",
    "X-Vercel-IP-Country",
)
COUNTRY = dict.fromkeys(COUNTRY_HEADERS, "US")
#: Forwarding metadata a client may try (the proxies set their own X-Forwarded-For/-Proto).
FORWARDING = {
    "X-Forwarded-Host": "open.example.com",
    "X-Forwarded-Uri": "/",
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Prefix": "/",
    "X-Original-URL": "http://open.example.com/",
    "X-Original-URI": "/",
    "X-Original-Method": "GET",
    "X-Real-IP": "10.1.2.3",
    "Forwarded": "for=10.1.2.3;host=open.example.com;proto=http",
}
#: Cookies of the application itself, around Countersign's.
APP_COOKIES = ("theme=dark", "csrftoken=abc123")
OPERATIONAL = ("/metrics", "/readyz", "/healthz", "/auth/nginx", "/auth/traefik", "/auth/envoy/")
#: The same endpoints spelled so a proxy matching raw paths might miss them.
OPERATIONAL_TRICKS = (
    "/metrics/",
    "/metrics?format=text",
    "//metrics",
    "/./readyz",
    "/static/../metrics",
    "/login/..%2Fmetrics",
    "/%6Detrics",
    "/readyz%2F",
    "/%61uth/traefik",
    "/auth/../auth/traefik",
    "//auth/traefik",
)


def device_headers(device: ManagedDevice) -> dict[str, str]:
    """Every way a client could claim the managed device's verified certificate."""
    return {
        "X-Client-Verify": "SUCCESS",
        "X-Client-Cert-Fingerprint": device.fingerprint,
        "X-Client-Cert": device.escaped_pem,
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-Cert": device.escaped_pem,
        "X-SSL-Client-Fingerprint": device.fingerprint,
        "X-Forwarded-Tls-Client-Cert": device.pem_body,
        "X-Forwarded-Tls-Client-Cert-Info": 'Subject="CN=managed-laptop"',
        "X-Forwarded-Client-Cert": f'Hash={device.fingerprint};Subject="CN=managed-laptop"',
    }


def hostile(device: ManagedDevice) -> dict[str, str]:
    """Everything at once."""
    return {
        **device_headers(device),
        **COUNTRY,
        **FOREIGN_IDENTITY,
        **COUNTERSIGN_IDENTITY,
        **IDENTITY_SPELLINGS,
        **FORWARDING,
    }


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def forged_arrivals(seen: SeenRequest, device: ManagedDevice) -> list[tuple[str, str]]:
    """Headers the backend got that carry a forged signal or identity (by any spelling)."""
    forged = {_normal(n) for n in (*device_headers(device), *COUNTRY, *FOREIGN_IDENTITY)}
    theirs = {_normal(n) for n in COUNTERSIGN_IDENTITY}
    found = []
    for name, value in seen.headers:
        normal = _normal(name)
        if normal in forged:
            found.append((name, value))
        elif normal in theirs and name.lower() != normal:
            found.append((name, value))  # `X_Auth_Request_User`: not Countersign's header
    return found


def cookie_names(seen: SeenRequest) -> list[str]:
    """The cookie names the backend received, in order, over every Cookie header."""
    names = []
    for name, value in seen.headers:
        if name.lower() == "cookie":
            names += [p.split("=", 1)[0].strip() for p in value.split(";") if p.strip()]
    return names


# --- decisions -------------------------------------------------------------------------------


def test_forged_signals_would_be_believed_if_they_reached_countersign(
    countersign: RunningCountersign, managed_device: ManagedDevice, tokens: Tokens
) -> None:
    """Control: the service itself, asked from loopback (a trusted proxy address) with the
    forged device and country headers, allows. The proxies alone stand between them."""
    with httpx.Client(base_url=countersign.base_url, trust_env=False, timeout=10) as client:
        for host, headers in (
            ("managed.example.com", device_headers(managed_device)),
            ("us.example.com", {"CF-IPCountry": "US"}),
        ):
            answer = client.get(
                "/auth/traefik",
                headers={
                    "Authorization": f"Bearer {tokens.alice}",
                    "X-Forwarded-Method": "GET",
                    "X-Forwarded-Proto": "http",
                    "X-Forwarded-Host": host,
                    "X-Forwarded-Uri": "/",
                    "Accept": "application/json",
                    **headers,
                },
            )
            assert answer.status_code == 200, (host, answer.text)


def test_forged_device_does_not_open_a_managed_only_app(
    gate: Gate, tokens: Tokens, managed_device: ManagedDevice
) -> None:
    """ALICE claiming a verified, listed client certificate in headers is still denied."""
    sent = gate.get("managed.example.com", "/", token=tokens.alice, headers=hostile(managed_device))
    assert sent.status == 403, sent.response.text
    assert sent.arrived == ()


@pytest.mark.parametrize("name", ["X-Client-Cert", "X-Client-Cert-Fingerprint"])
def test_each_certificate_header_alone_does_not_open_a_managed_only_app(
    gate: Gate, tokens: Tokens, managed_device: ManagedDevice, name: str
) -> None:
    """Either way of naming the certificate, with a forged SUCCESS, is still denied."""
    headers = {"X-Client-Verify": "SUCCESS", name: device_headers(managed_device)[name]}
    sent = gate.get("managed.example.com", "/", token=tokens.alice, headers=headers)
    assert sent.status == 403, sent.response.text
    assert sent.arrived == ()


def test_forged_country_does_not_open_a_country_gated_app(
    gate: Gate, tokens: Tokens, managed_device: ManagedDevice
) -> None:
    """ALICE claiming to be in the US (CF-IPCountry and friends) is still denied."""
    sent = gate.get("us.example.com", "/", token=tokens.alice, headers=hostile(managed_device))
    assert sent.status == 403, sent.response.text
    assert sent.arrived == ()


def test_forged_headers_do_not_open_a_denied_app(
    gate: Gate, tokens: Tokens, managed_device: ManagedDevice
) -> None:
    """ALICE dressed up as BOB, admin, from a managed device in the US, is denied the admin
    console."""
    sent = gate.get("admin.example.com", "/", token=tokens.alice, headers=hostile(managed_device))
    assert sent.status == 403, sent.response.text
    assert sent.arrived == ()


def test_forged_headers_sign_nobody_in(gate: Gate, managed_device: ManagedDevice) -> None:
    """Without a token, every forged header together leaves the caller anonymous."""
    sent = gate.get("open.example.com", "/", headers=hostile(managed_device))
    assert sent.status == 401
    assert sent.arrived == ()


# --- what reaches the application ------------------------------------------------------------


def test_no_forged_signal_or_identity_reaches_the_app(
    gate: Gate, tokens: Tokens, managed_device: ManagedDevice
) -> None:
    """ALICE is allowed on the open app; the backend gets Countersign's identity for her and
    none of the signal or identity headers she forged, under any spelling."""
    sent = gate.get("open.example.com", "/", token=tokens.alice, headers=hostile(managed_device))
    assert sent.status == 200, sent.response.text
    seen = sent.seen
    assert forged_arrivals(seen, managed_device) == []
    assert seen.header("X-Auth-Request-Email") == "alice@example.com"
    assert seen.header("X-Auth-Request-Groups") == "engineers"
    assertions = [v for k, v in seen.headers if k.lower() == "x-countersign-assertion"]
    assert len(assertions) == 1
    assert assertions[0] != COUNTERSIGN_IDENTITY["X-Countersign-Assertion"]


def test_the_bearer_countersign_consumed_does_not_reach_the_app(gate: Gate, tokens: Tokens) -> None:
    """The user's bearer token, which would open every other protected host, stays behind."""
    sent = gate.get("open.example.com", "/", token=tokens.alice)
    assert sent.status == 200
    assert not sent.seen.has_header("Authorization")


@pytest.mark.parametrize(
    "cookies",
    [
        pytest.param(["{session}", *APP_COOKIES], id="first"),
        pytest.param([APP_COOKIES[0], "{session}", APP_COOKIES[1]], id="middle"),
        pytest.param([*APP_COOKIES, "{session}"], id="last"),
        pytest.param(["{session}", APP_COOKIES[0], "{session}", APP_COOKIES[1]], id="twice"),
        pytest.param([APP_COOKIES[0], " {session} ", APP_COOKIES[1]], id="spaced"),
    ],
)
def test_the_session_cookie_is_stripped_and_app_cookies_kept(
    gate: Gate, tokens: Tokens, cookies: list[str]
) -> None:
    """Signed in by Countersign's cookie, ALICE reaches the app with the app's own cookies
    only: Countersign's session never does."""
    session = f"{SESSION_COOKIE}={tokens.alice}"
    header = "; ".join(c.replace("{session}", session) for c in cookies)
    sent = gate.get("open.example.com", "/", headers={"Cookie": header})
    assert sent.status == 200, sent.response.text
    assert cookie_names(sent.seen) == ["theme", "csrftoken"]
    assert tokens.alice not in str(sent.seen.headers)


def test_a_session_cookie_alone_leaves_no_cookie(gate: Gate, tokens: Tokens) -> None:
    """When Countersign's cookie was the only one, the app gets no cookie at all."""
    sent = gate.get("open.example.com", "/", cookie=tokens.alice)
    assert sent.status == 200, sent.response.text
    assert cookie_names(sent.seen) == []
    assert tokens.alice not in str(sent.seen.headers)


def test_a_lookalike_cookie_name_is_kept(gate: Gate, tokens: Tokens) -> None:
    """Only Countersign's cookie goes: `my_countersign_session` belongs to the app."""
    header = f"my_{SESSION_COOKIE}=app-value; {SESSION_COOKIE}={tokens.alice}; theme=dark"
    sent = gate.get("open.example.com", "/", headers={"Cookie": header})
    assert sent.status == 200, sent.response.text
    assert cookie_names(sent.seen) == [f"my_{SESSION_COOKIE}", "theme"]


def test_bypassed_paths_get_no_credentials_either(gate: Gate, tokens: Tokens) -> None:
    """A bypassed health check (no decision needed) still never sees the session or bearer."""
    sent = gate.get(
        "open.example.com",
        "/healthz",
        token=tokens.alice,
        headers={"Cookie": f"{SESSION_COOKIE}={tokens.alice}; theme=dark"},
    )
    assert sent.status == 200, sent.response.text
    assert not sent.seen.has_header("Authorization")
    assert cookie_names(sent.seen) == ["theme"]


# --- Countersign's public host ---------------------------------------------------------------


def _oracle_headers(tokens: Tokens) -> dict[str, str]:
    """What a client would send to use /auth/* as a decision oracle for ALICE's token."""
    return {
        "Authorization": f"Bearer {tokens.alice}",
        "X-Original-URL": "http://open.example.com/",
        "X-Original-Method": "GET",
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "open.example.com",
        "X-Forwarded-Uri": "/",
    }


@pytest.mark.parametrize("target", OPERATIONAL + OPERATIONAL_TRICKS)
def test_operational_endpoints_are_not_public(gate: Gate, tokens: Tokens, target: str) -> None:
    """/metrics, /readyz, /healthz and the /auth/* decision oracle answer 403 or 404 on the
    public host (400 where the proxy refuses the spelling itself), however the path is
    spelled, and never with Countersign's content."""
    sent = gate.get(PUBLIC_HOST, target, headers=_oracle_headers(tokens))
    body = sent.response.text
    assert sent.status in (400, 403, 404), (sent.status, body[:200])
    for leak in ("# TYPE", '"ready"', '"decision"', "ok\n"):
        assert leak not in body, (leak, body[:200])
    assert not any(k.lower().startswith("x-auth-request-") for k in sent.response.headers)
    assert sent.arrived == ()


@pytest.mark.parametrize(
    ("target", "statuses"),
    [
        ("/login", (302,)),
        ("/dev/login", (200,)),
        ("/static/app.css", (200,)),
        ("/api/openapi.json", (200,)),
        ("/request?" + urlencode({"app": "approval"}), (200, 302, 303, 401)),
        ("/inbox", (200, 302, 303, 401)),
        ("/access", (200, 302, 303, 401)),
    ],
)
def test_pages_still_work_on_the_public_host(
    gate: Gate, target: str, statuses: tuple[int, ...]
) -> None:
    """Sign-in, request, inbox, access, static files and the API stay reachable."""
    sent = gate.get(PUBLIC_HOST, target, browser=True)
    assert sent.status in statuses, (sent.status, sent.response.text[:200])
    assert sent.arrived == ()


def test_well_known_reaches_countersign(gate: Gate) -> None:
    """/.well-known/ is Countersign's (its JWKS lives there), not blocked by the proxy."""
    sent = gate.get(PUBLIC_HOST, "/.well-known/jwks.json")
    assert sent.status == 200 or sent.response.json() == {"detail": "Not Found"}
