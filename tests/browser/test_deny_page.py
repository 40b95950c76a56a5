"""A person refused by a policy sees Countersign's page, through nginx's `error_page 403`, on
the application's own address: what they cannot use, why, who they are, and whom to ask."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.site import BrowserSite

pytestmark = pytest.mark.browser

#: `.top` in app.css: the page's inline stylesheet applied (its CSP hash matched).
HEADER_BACKGROUND = "rgb(27, 31, 36)"


def test_a_blocked_person_sees_why_and_whom_to_ask(site: BrowserSite) -> None:
    """ALICE, an engineer, opens Payroll: after signing in she stays on payroll.example.com and
    reads the refusal page, styled, with no Content Security Policy complaint."""
    alice = site.person("Alice")
    console: list[str] = []
    alice.page.on("console", lambda message: console.append(message.text))
    alice.open_app("payroll", "/slips/2026-11")

    assert alice.page.url == site.app_url("payroll", "/slips/2026-11")
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("You cannot use Payroll")
    alert = alice.page.get_by_role("alert")
    expect(alert).to_contain_text("The policy “Engineers never” refuses you access.")
    expect(alert).to_contain_text("Your groups are not allowed here.")
    expect(alice.page.locator("#signed-in-as")).to_have_text("alice@example.com")
    expect(alice.page.locator("#whom-to-ask")).to_have_text("members of the group leads")
    expect(alice.page.get_by_role("link", name="My access")).to_have_attribute(
        "href", site.public_url("/access")
    )
    background = alice.page.locator("header.top").evaluate(
        "element => getComputedStyle(element).backgroundColor"
    )
    assert background == HEADER_BACKGROUND
    assert not [text for text in console if "Content Security Policy" in text]
    alice.shot("19-refused-by-policy")
