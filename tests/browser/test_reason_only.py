"""A reason alone opens the application: the form's post is answered with a 303 to another
host, which the browser follows only if the page's CSP `form-action` allows that origin."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.site import BrowserSite

pytestmark = pytest.mark.browser


def test_continue_after_a_reason_takes_the_person_to_the_application(site: BrowserSite) -> None:
    """Pressing "Continue to Wiki" lands on the wiki page first asked for, through nginx."""
    dana = site.person("Dana")
    blocked: list[str] = []
    dana.page.on("console", lambda message: blocked.append(message.text))
    dana.open_app("wiki", "/pages/on-call?rev=2")
    dana.page.wait_for_url(re.compile(r"/request\?app=wiki&rd="))
    expect(dana.page.get_by_role("heading", level=1)).to_have_text("Access to Wiki")
    dana.page.get_by_label("Ticket or incident?").fill("INC-9 reading the runbook")
    dana.page.get_by_role("button", name="Continue to Wiki").click()

    dana.page.wait_for_url(site.app_url("wiki", "/pages/on-call?rev=2"))
    echoed = json.loads(dana.page.locator("body").inner_text())
    assert echoed["path"] == "/pages/on-call"
    headers = {name.lower(): value for name, value in echoed["headers"]}
    assert headers["x-auth-request-user"] == "dana@example.com"
    assert not [text for text in blocked if "Content Security Policy" in text]
    dana.shot("11-reason-only-continued")
