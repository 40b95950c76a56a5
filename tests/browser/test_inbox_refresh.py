"""The inbox keeps itself current: a request asked while an approver has it open appears
without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.site import BrowserSite

pytestmark = pytest.mark.browser


def test_a_new_request_appears_in_an_open_inbox(site: BrowserSite) -> None:
    """BOB has the inbox open; ALICE asks for Tickets; it shows up in BOB's page by itself."""
    bob = site.person("Bob")
    bob.open(site.public_url("/inbox"))
    expect(bob.page.get_by_role("heading", level=1)).to_have_text("Requests waiting for you")
    bob.page.evaluate("window.sameDocument = true")

    alice = site.person("Alice")
    alice.open_app("tickets")
    request_id = alice.ask("INC-88 monthly numbers look wrong")

    card = bob.page.locator(f'a[href$="/inbox/{request_id}"]')
    expect(card).to_have_text("alice@example.com asks for Tickets", timeout=30_000)
    assert bob.page.evaluate("window.sameDocument") is True  # updated in place, not reloaded
    bob.shot("20-inbox-refreshed")
