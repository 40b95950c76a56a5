"""The whole second-opinion journey in Chromium, through nginx: ALICE asks, BOB approves for a
few seconds, ALICE's page moves on by itself to the application, and when the grant runs out she
is asked again."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.site import BrowserSite

pytestmark = pytest.mark.browser
GRANT_SECONDS = 10


def test_ask_approve_use_and_ask_again(site: BrowserSite) -> None:
    """Request page → pending → approved in the inbox → the app → asked again after expiry."""
    alice = site.person("Alice")
    alice.page.goto(site.app_url("console", "/runbook?step=1"))
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Sign in (dev)")
    alice.shot("01-dev-sign-in")
    alice.page.get_by_role("button", name=re.compile("Sign in as Alice")).click()

    alice.page.wait_for_url(re.compile(r"/request\?app=console&rd="))
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Access to Console")
    expect(alice.page.locator(".facts")).to_contain_text("managed device (disk-encrypted)")
    expect(alice.page.get_by_text("members of the group leads")).to_be_visible()
    alice.shot("02-request-form")
    request_id = alice.ask("INC-7 the queue is stuck", duration="15 minutes")
    expect(alice.page.locator("#status")).to_have_attribute("data-state", "pending")
    expect(alice.page.get_by_role("status")).to_contain_text("Waiting for approval")
    alice.shot("03-status-pending")

    bob = site.person("Bob")
    bob.open(site.public_url("/inbox"))
    expect(bob.page.locator("#inbox")).to_contain_text("alice@example.com asks for Console")
    bob.shot("04-inbox")
    bob.open_review(request_id)
    expect(bob.page.locator("#justification")).to_have_text("INC-7 the queue is stuck")
    expect(bob.page.get_by_label("Approve for")).to_have_value("15m")
    bob.shot("05-review")
    bob.page.get_by_label("Approve for").select_option(label=f"{GRANT_SECONDS} seconds")
    bob.page.get_by_label("Comment").fill("Short and sweet")
    bob.page.get_by_role("button", name="Approve").click()
    approved_at = time.monotonic()
    expect(bob.page.get_by_role("status")).to_contain_text("Approved by bob@example.com")
    bob.shot("06-review-approved")

    # Nobody touches ALICE's page: its script notices and takes her to the application.
    alice.page.wait_for_url(site.app_url("console", "/runbook?step=1"), timeout=8_000)
    echoed = json.loads(alice.page.locator("body").inner_text())
    assert echoed["path"] == "/runbook"
    headers = {name.lower(): value for name, value in echoed["headers"]}
    assert headers["x-auth-request-user"] == "alice@example.com"
    alice.shot("07-app-after-approval")

    time.sleep(max(0.0, GRANT_SECONDS + 1 - (time.monotonic() - approved_at)))
    alice.page.reload()
    alice.page.wait_for_url(re.compile(r"/request\?app=console&rd="))
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Access to Console")
    alice.shot("08-asked-again")


def test_my_access_lists_the_grant_and_ends_it(site: BrowserSite) -> None:
    """After approval ALICE's My access shows the grant; "End now" ends it."""
    alice = site.person("Alice")
    alice.open_app("library")
    request_id = alice.ask("Reading the on-call notes")
    bob = site.person("Bob")
    bob.open_review(request_id)
    bob.page.get_by_label("Approve for").select_option(label="1 hour")
    bob.page.get_by_role("button", name="Approve").click()
    expect(bob.page.get_by_role("status")).to_contain_text("Approved")
    # Alice's status page follows the approval on to the application by itself: let it land
    # before she goes elsewhere, or her navigation races that one.
    alice.page.wait_for_url(re.compile(r"^http://library\.example\.com/"), timeout=20_000)

    alice.open(site.public_url("/access"))
    grants = alice.page.locator("#my-grants")
    expect(grants).to_contain_text("Library")
    expect(grants).to_contain_text("left")
    bob.open(site.public_url("/access"))
    expect(bob.page.locator("#other-grants")).to_contain_text("alice@example.com · Library")
    bob.shot("09-access-approver")
    alice.shot("10-my-access")
    alice.page.get_by_role("button", name="End my access to Library now").click()
    expect(alice.page.get_by_text("You have no time-limited access")).to_be_visible()
    alice.open_app("library")
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Access to Library")
