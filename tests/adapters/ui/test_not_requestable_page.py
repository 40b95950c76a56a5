"""The request page words a refusal with the same table as the API's problem detail."""

from __future__ import annotations

import httpx

from app.services.errors import NOT_REQUESTABLE_WORDING, NotRequestable
from tests.adapters.ui.site import MALLORY, Site, Visit, request_page


def test_a_blocked_contractor_reads_the_shared_wording(site: Site) -> None:
    """MALLORY is blocked from Grafana: the page shows the code and the table's sentence."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(MALLORY).get(request_page())

    page = site.run(steps)
    assert page.status_code == 403
    assert NotRequestable.NO_POLICY_ALLOWS.value in page.text
    assert NOT_REQUESTABLE_WORDING[NotRequestable.NO_POLICY_ALLOWS] in page.text
