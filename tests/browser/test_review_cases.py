"""What can go differently in the browser: a denial with a comment, an approver's own request,
a forged post without the form token, and markup in a justification."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, expect

from tests.browser.site import BrowserSite

pytestmark = pytest.mark.browser


def test_denial_comment_reaches_the_requester_by_itself(site: BrowserSite) -> None:
    """BOB denies with a comment; ALICE's open status page turns to "Denied" and shows it."""
    alice = site.person("Alice")
    alice.open_app("billing")
    request_id = alice.ask("INC-8 refund run failed")

    bob = site.person("Bob")
    bob.open_review(request_id)
    bob.page.get_by_label("Why do you deny it?").fill("Ask the billing on-call <b>instead</b>")
    bob.page.get_by_role("button", name="Deny").click()
    expect(bob.page.get_by_role("status")).to_contain_text("Denied by bob@example.com")

    expect(alice.page.locator("#status")).to_have_attribute("data-state", "denied", timeout=8_000)
    expect(alice.page.locator("#denial-comment")).to_have_text(
        "Ask the billing on-call <b>instead</b>"
    )
    expect(alice.page.get_by_role("link", name="Ask again")).to_be_visible()
    alice.shot("11-status-denied")


def test_an_approver_cannot_approve_their_own_request(site: BrowserSite) -> None:
    """BOB asks for the vault: his inbox does not list it and its page offers no approval."""
    bob = site.person("Bob")
    bob.open_app("vault")
    request_id = bob.ask("Rotating the root keys")

    bob.open(site.public_url("/inbox"))
    expect(bob.page.locator(f'a[href$="/inbox/{request_id}"]')).to_have_count(0)
    bob.open(site.public_url(f"/inbox/{request_id}"))
    expect(bob.page.locator("#own-request")).to_contain_text("your own request")
    expect(bob.page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(bob.page.get_by_role("button", name="Deny")).to_have_count(0)
    bob.shot("12-own-request")


def test_a_post_without_the_form_token_is_refused(site: BrowserSite) -> None:
    """BOB's approve form with its token removed is refused (403) and nothing changes."""
    alice = site.person("Alice")
    alice.open_app("reports")
    request_id = alice.ask("Quarterly numbers for the board")

    bob = site.person("Bob")
    bob.open_review(request_id)
    bob.page.locator('#approve-form input[name="csrf"]').evaluate("field => field.remove()")
    bob.page.get_by_role("button", name="Approve").click()
    expect(bob.page.get_by_role("heading", level=1)).to_have_text("This form cannot be accepted")
    bob.shot("13-forged-post-refused")

    forged = bob.page.evaluate(
        """url => fetch(url, {method: "POST", body: new URLSearchParams({duration: "1h"})})
            .then(answer => answer.status)""",
        site.public_url(f"/inbox/{request_id}/approve"),
    )
    assert forged == 403
    bob.open(site.public_url(f"/inbox/{request_id}"))
    expect(bob.page.get_by_role("status")).to_contain_text("Waiting")
    expect(alice.page.locator("#status")).to_have_attribute("data-state", "pending")


def test_markup_in_a_justification_is_shown_as_text(site: BrowserSite) -> None:
    """A reason holding <script> and <img onerror> is displayed as typed and never runs."""
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> INC-9'
    alice = site.person("Alice")
    alice.open_app("notes")
    request_id = alice.ask(hostile)

    bob = site.person("Bob")
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    bob.page.on("dialog", record)
    bob.open(site.public_url("/inbox"))
    expect(bob.page.locator("#inbox")).to_contain_text('<script>alert("x")</script>')
    bob.open_review(request_id)
    expect(bob.page.locator("#justification")).to_have_text(hostile)
    expect(bob.page.locator("#justification img")).to_have_count(0)
    expect(bob.page.locator("main script")).to_have_count(0)
    bob.shot("14-markup-as-text")
    assert dialogs == []
