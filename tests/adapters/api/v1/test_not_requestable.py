"""Why a user cannot ask for access: a closed set of reasons, each its own problem code, worded
once for the API and the pages."""

from __future__ import annotations

import pytest

from app.adapters.api.v1.problems import to_problem
from app.services.errors import NOT_REQUESTABLE_WORDING, NotRequestable, NotRequestableError
from tests.adapters.api.v1.world import MALLORY, Api, problem_of


@pytest.mark.parametrize("reason", list(NotRequestable))
def test_each_reason_is_a_403_with_its_code_and_the_shared_wording(
    reason: NotRequestable,
) -> None:
    """Every reason maps to 403, its kebab-case code and the one shared sentence."""
    problem = to_problem(NotRequestableError(reason))
    assert (problem.status, problem.code) == (403, reason.value)
    assert problem.detail == NOT_REQUESTABLE_WORDING[reason]


def test_a_blocked_contractor_reads_the_same_words_as_on_the_page(api: Api) -> None:
    """MALLORY asking for Grafana gets the detail the request page shows, not a second wording."""
    response = api.post(
        "/api/v1/access-requests",
        who=MALLORY,
        json={"application": "grafana", "justification": "x"},
    )
    problem = problem_of(response)
    assert problem["code"] == "no-policy-allows-a-request"
    assert problem["detail"] == NOT_REQUESTABLE_WORDING[NotRequestable.NO_POLICY_ALLOWS]
