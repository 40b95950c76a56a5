"""What the browser tests do the way a person would: open an application, sign in with the dev
login, fill the request form, open the inbox, approve or deny; and screenshots of each page."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.proxies import PUBLIC_HOST

DESKTOP = (1280, 900)
PHONE = (390, 844)
_REQUEST_ID = re.compile(r"/request/(req_[A-Za-z0-9_-]+)")


@dataclass
class Person:
    """One person in their own browser context."""

    name: str
    page: Page
    site: BrowserSite

    def open(self, url: str) -> None:
        """Go to `url`; sign in on the dev login page if that is where it leads."""
        self.page.goto(url)
        if "/dev/login" in self.page.url:
            self.page.get_by_role("button", name=re.compile(f"Sign in as {self.name}")).click()
            self.page.wait_for_load_state()

    def open_app(self, app: str, path: str = "/") -> None:
        """Open a protected application through nginx, as by typing its address."""
        self.open(self.site.app_url(app, path))

    def ask(self, justification: str, *, duration: str | None = None) -> str:
        """Fill the request form in and send it; returns the new request's id."""
        expect(self.page.get_by_role("heading", level=1)).to_contain_text("Access to")
        self.page.get_by_label("Ticket or incident?").fill(justification)
        if duration is not None:
            self.page.get_by_label("For how long?").select_option(label=duration)
        self.page.get_by_role("button", name="Ask for approval").click()
        self.page.wait_for_url(_REQUEST_ID)
        return self.request_id()

    def request_id(self) -> str:
        """The id of the request whose status page is open."""
        match = _REQUEST_ID.search(self.page.url)
        assert match is not None, self.page.url
        return match.group(1)

    def open_review(self, request_id: str) -> None:
        """Open the inbox, then the request from it."""
        self.open(self.site.public_url("/inbox"))
        expect(self.page.get_by_role("heading", level=1)).to_have_text("Requests waiting for you")
        self.page.locator(f'a[href$="/inbox/{request_id}"]').click()
        self.page.wait_for_url(re.compile(f"/inbox/{request_id}$"))

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as tests/artifacts/<name>.png."""
        path = self.site.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@dataclass
class BrowserSite:
    """Where screenshots go, and how to open a new browser context."""

    artifacts: Path
    new_page: Callable[[int, int], Page]

    def app_url(self, app: str, path: str = "/") -> str:
        """A protected application's URL through nginx."""
        return f"http://{app}.example.com{path}"

    def public_url(self, path: str = "/") -> str:
        """A page of Countersign itself, on its public host through nginx."""
        return f"http://{PUBLIC_HOST}{path}"

    def person(self, name: str, *, size: tuple[int, int] = DESKTOP) -> Person:
        """`name` (as listed by the dev login) in a fresh browser context."""
        return Person(name, self.new_page(*size), self)
