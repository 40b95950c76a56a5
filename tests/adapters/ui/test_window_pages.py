"""The pages and planned windows and extensions: the request form takes an optional start
(UTC), the status and My access pages show an approved window as upcoming, and a live grant
has an extend page whose request is reviewed like any other."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.adapters.ui.site import (
    ALICE,
    BOB,
    GRAFANA_RD,
    Site,
    Visit,
    csrf_of,
    post_form,
    request_id_in,
    request_page,
    review,
)


def tonight() -> datetime:
    """Ten hours from now, whole seconds."""
    return (datetime.now(UTC) + timedelta(hours=10)).replace(microsecond=0)


async def ask_planned(client: httpx.AsyncClient, start: str) -> httpx.Response:
    """ALICE fills in the request form with a start time and submits it."""
    page = await client.get(request_page())
    assert 'name="starts_at"' in page.text
    fields = {
        "csrf": csrf_of(page),
        "app": "grafana",
        "rd": GRAFANA_RD,
        "justification": "CHG-77: database maintenance tonight",
        "duration": "2h",
        "starts_at": start,
    }
    return await post_form(client, "/request", fields)


def test_a_planned_request_is_upcoming_once_approved(site: Site) -> None:
    """The status page and BOB's review page show the start; once BOB approves, the status
    page and My access say "upcoming"."""
    start = tonight()

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        alice, bob = visit.as_(ALICE), visit.as_(BOB)
        answer = await ask_planned(alice, start.strftime("%Y-%m-%dT%H:%M"))
        assert answer.status_code == 303, answer.text[:2000]
        request_id = request_id_in(answer.headers["location"])
        pending = await alice.get(answer.headers["location"])
        inbox = await bob.get(f"/inbox/{request_id}")
        assert 'id="window-start"' in inbox.text
        approved = await review(bob, request_id, "approve")
        assert approved.status_code == 303, approved.text[:2000]
        return pending, await alice.get(answer.headers["location"]), await alice.get("/access")

    pending, status, access = site.run(steps)
    assert 'id="window-start"' in pending.text
    assert 'data-state="upcoming"' in status.text
    assert "has not started yet" in status.text
    assert 'data-upcoming="true"' in access.text
    assert "Upcoming: from" in access.text


def test_a_start_that_is_not_a_time_is_refused(site: Site) -> None:
    """A start the form cannot read is 422, and nothing is asked."""

    async def steps(visit: Visit) -> httpx.Response:
        return await ask_planned(visit.as_(ALICE), "tonight")

    assert site.run(steps).status_code == 422


def test_a_start_in_the_past_is_shown_on_the_form(site: Site) -> None:
    """The form comes back with the refusal (422) and what ALICE typed."""

    async def steps(visit: Visit) -> httpx.Response:
        return await ask_planned(visit.as_(ALICE), "2020-01-01T10:00")

    page = site.run(steps)
    assert page.status_code == 422
    assert 'id="form-error"' in page.text
    assert "The start is in the past" in page.text
    assert "CHG-77: database maintenance tonight" in page.text


def test_the_holder_asks_for_more_time_from_my_access(site: Site) -> None:
    """My access links to the extend page; posting it opens an extension request, whose
    status page says what it extends, and BOB's approval moves the end."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response, str]:
        alice, bob = visit.as_(ALICE), visit.as_(BOB)
        page = await alice.get(request_page())
        asked = await post_form(
            alice,
            "/request",
            {
                "csrf": csrf_of(page),
                "app": "grafana",
                "rd": GRAFANA_RD,
                "justification": "INC-2041: dashboards for the outage",
                "duration": "1h",
            },
        )
        first = request_id_in(asked.headers["location"])
        await review(bob, first, "approve")
        access = await alice.get("/access")
        found = re.search(r'href="[^"]*/access/(grt_[A-Za-z0-9_-]+)/extend"', access.text)
        assert found is not None, access.text[:2000]
        grant_id = found.group(1)
        form = await alice.get(f"/access/{grant_id}/extend")
        assert form.status_code == 200, form.text[:2000]
        extended = await post_form(
            alice,
            f"/access/{grant_id}/extend",
            {
                "csrf": csrf_of(form),
                "justification": "INC-2041: still digging",
                "duration": "1h",
            },
        )
        assert extended.status_code == 303, extended.text[:2000]
        second = request_id_in(extended.headers["location"])
        status = await alice.get(extended.headers["location"])
        done = await review(bob, second, "approve")
        assert done.status_code == 303, done.text[:2000]
        return status, await alice.get(extended.headers["location"]), grant_id

    status, after, _ = site.run(steps)
    assert "more time on it" in status.text
    assert "Extended until" in after.text
