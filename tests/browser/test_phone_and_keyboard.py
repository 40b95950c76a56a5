"""The pages at phone width, and driven by the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.site import PHONE, BrowserSite

pytestmark = pytest.mark.browser


def fits_the_width(page: Page) -> bool:
    """No horizontal scrolling."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def focused(page: Page) -> str:
    """The id (or tag name) of the element holding the focus."""
    return str(page.evaluate("document.activeElement.id || document.activeElement.tagName"))


def test_request_and_review_at_phone_width_with_the_keyboard(site: BrowserSite) -> None:
    """On a phone-sized screen ALICE asks and BOB denies using only Tab, typing and Enter."""
    alice = site.person("Alice", size=PHONE)
    alice.open_app("phone")
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Access to Phone book")
    assert fits_the_width(alice.page)
    alice.shot("15-phone-request-form")

    # Skip link, brand, Inbox, My access: the form comes next in the tab order.
    for _ in range(8):
        alice.page.keyboard.press("Tab")
        if focused(alice.page) == "justification":
            break
    assert focused(alice.page) == "justification"
    alice.page.keyboard.type("Looking up the on-call number")
    alice.page.keyboard.press("Tab")
    assert focused(alice.page) == "duration"
    alice.page.keyboard.press("Tab")
    assert focused(alice.page) == "starts_at"  # optional: a planned window; left empty
    # Tab walks the date-time input's parts (day, month, year, hours, minutes, seconds) first.
    for _ in range(8):
        alice.page.keyboard.press("Tab")
        if focused(alice.page) != "starts_at":
            break
    assert focused(alice.page) == "BUTTON"
    alice.shot("16-phone-keyboard-focus")
    alice.page.keyboard.press("Enter")
    alice.page.wait_for_url("**/request/req_*")
    expect(alice.page.locator("#status")).to_have_attribute("data-state", "pending")
    assert fits_the_width(alice.page)
    alice.shot("17-phone-status")
    request_id = alice.request_id()

    bob = site.person("Bob", size=PHONE)
    bob.open_review(request_id)
    assert fits_the_width(bob.page)
    bob.shot("18-phone-review")
    bob.page.get_by_label("Why do you deny it?").focus()
    bob.page.keyboard.type("Call the front desk")
    bob.page.keyboard.press("Tab")
    assert focused(bob.page) == "deny"
    bob.page.keyboard.press("Enter")
    expect(bob.page.get_by_role("status")).to_contain_text("Denied")
