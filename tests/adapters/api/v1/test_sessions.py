"""/api/v1/sessions/revoke: admins end every session of a person; nobody else may."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx

from tests.adapters.api.v1.world import ALICE, ERIN, PEER, Api, problem_of

REVOKE = "/api/v1/sessions/revoke"


def dev_session(api: Api, email: str) -> str:
    """Sign in through /dev/login as `email`; the session token from the cookie."""

    async def go() -> str:
        transport = httpx.ASGITransport(app=api.app, client=PEER)
        async with httpx.AsyncClient(
            transport=transport, base_url=api.settings.server.public_url
        ) as client:
            page = await client.get("/dev/login")
            match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            assert match is not None
            body = urlencode({"email": email, "rd": "", "csrf": match.group(1)})
            answer = await client.post(
                "/dev/login",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 303
            return answer.cookies[api.settings.identity.cookie_name]

    return api.loop.run_until_complete(go())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_admin_ends_every_session_of_a_person(api: Api) -> None:
    """ERIN revokes ALICE's sessions: her dev-login session is refused afterwards, and the audit
    log names ERIN."""
    session = dev_session(api, ALICE.email)
    assert api.get("/api/v1/grants?mine=true", headers=bearer(session)).status_code == 200
    issuer = api.settings.server.public_url + "/dev"
    answer = api.post(REVOKE, who=ERIN, json={"issuer": issuer, "subject": ALICE.email})
    assert answer.status_code == 200
    assert answer.json()["subject"] == ALICE.email
    refused = api.get("/api/v1/grants?mine=true", headers=bearer(session))
    assert refused.status_code == 401
    assert "session-ended" in problem_of(refused)["detail"]
    audit = api.get("/api/v1/audit", params={"type": "sessions_revoked"}, who=ERIN).json()
    assert [e["event"]["actor"] for e in audit["items"]] == [ERIN.email]


def test_only_admins_may_end_sessions(api: Api) -> None:
    """ALICE cannot end anyone's sessions: 403 admin-only."""
    answer = api.post(REVOKE, who=ALICE, json={"issuer": "https://idp", "subject": "u-bob"})
    assert answer.status_code == 403
    assert problem_of(answer)["code"] == "admin-only"


def test_revoke_needs_issuer_and_subject(api: Api) -> None:
    """A body without the subject is refused with 422 before anything is ended."""
    answer = api.post(REVOKE, who=ERIN, json={"issuer": "https://idp"})
    assert answer.status_code == 422
