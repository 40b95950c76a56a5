"""Where an approver goes to sign in again, more strongly, when a policy's `reviewers_need`
asks for it: the sign-in page (LOGIN_URL) with `prompt=login`, `max_age` and `mfa=1`, and the
review page under PUBLIC_URL as the place to come back to. The API's problem and the review
page build the same link from here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode


@dataclass(frozen=True, slots=True)
class StepUpLinks:
    """LOGIN_URL and PUBLIC_URL, and the links made from them."""

    login_url: str
    public_url: str

    def review_page(self, request_id: str) -> str:
        """The absolute URL of a request's review page."""
        return f"{self.public_url.rstrip('/')}/inbox/{quote(request_id, safe='')}"

    def sign_in(self, *, return_to: str, mfa: bool, max_age: int | None) -> str:
        """The sign-in page asked for a fresh login (`prompt=login`), at most `max_age` seconds
        old when given, with MFA when `mfa`, then back to `return_to`."""
        params = [("rd", return_to), ("prompt", "login")]
        if max_age is not None:
            params.append(("max_age", str(max_age)))
        if mfa:
            params.append(("mfa", "1"))
        joiner = "&" if "?" in self.login_url else "?"
        return f"{self.login_url}{joiner}{urlencode(params, quote_via=quote, safe='')}"

    def sign_in_to_review(self, request_id: str, *, mfa: bool, max_age: int | None) -> str:
        """The step-up sign-in that lands back on the review page of `request_id`."""
        return self.sign_in(return_to=self.review_page(request_id), mfa=mfa, max_age=max_age)
