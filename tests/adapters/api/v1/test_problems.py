"""Every error of /api/v1 is an RFC 9457 problem document, including those no route raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from app.adapters.api.v1.problems import to_problem
from app.adapters.dev.issuer import DevIssuer
from app.adapters.store.redis_workflow import ContentionError
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import ALICE, BOB, Api, problem_of, settings_for
from tests.support.ports import free_port


def test_a_problem_has_type_title_status_detail_and_code(api: Api) -> None:
    """The members RFC 9457 names, plus the stable code; never cached."""
    response = api.get("/api/v1/access-requests/req_missing", who=ALICE)
    problem = problem_of(response)
    assert set(problem) == {"type", "title", "status", "detail", "code"}
    assert problem["type"] == "urn:countersign:problem:not-found"
    assert (problem["title"], problem["status"]) == ("Not Found", 404)
    assert response.headers["cache-control"] == "no-store"


def test_invalid_input_lists_each_field(api: Api) -> None:
    """422 names the fields, and never echoes the input back."""
    response = api.post(
        "/api/v1/access-requests",
        who=ALICE,
        json={"application": "", "justification": "secret-ish " + "y" * 20_000},
    )
    problem = problem_of(response)
    assert {e["location"] for e in problem["errors"]} == {"body.application", "body.justification"}
    assert "yyyy" not in response.text


def test_records_are_never_cached(api: Api) -> None:
    """Successful answers carry Cache-Control: no-store too."""
    response = api.get("/api/v1/grants", who=BOB)
    assert response.headers["cache-control"] == "no-store"


def test_an_unknown_path_under_the_api_is_a_problem(api: Api) -> None:
    """404 no-such-endpoint, as problem+json."""
    response = api.get("/api/v1/nothing-here", who=ALICE)
    assert response.status_code == 404
    assert problem_of(response)["code"] == "no-such-endpoint"


def test_a_wrong_method_is_405_with_allow(api: Api) -> None:
    """PUT on the grants list: 405 method-not-allowed, `Allow: GET`."""
    response = api.call("PUT", "/api/v1/grants", who=ALICE)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert problem_of(response)["code"] == "method-not-allowed"


def test_a_body_announced_too_large_is_refused(api: Api) -> None:
    """A Content-Length over 64 KB is refused before the body is read: 413."""
    response = api.post(
        "/api/v1/decisions/explain",
        who=ALICE,
        content=b"{}" + b" " * 70_000,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert problem_of(response)["code"] == "body-too-large"


def test_a_streamed_body_too_large_is_refused(api: Api) -> None:
    """Without a Content-Length the body is counted as it arrives: 413 past 64 KB."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 10_000

    response = api.post(
        "/api/v1/decisions/explain",
        who=ALICE,
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert problem_of(response)["code"] == "body-too-large"


def test_a_store_that_keeps_losing_races_is_503() -> None:
    """ContentionError (a record that kept changing) is 503 contention with Retry-After."""
    problem = to_problem(ContentionError("the record kept changing"))
    assert (problem.status, problem.code, problem.headers) == (
        503,
        "contention",
        {"retry-after": "1"},
    )


def test_an_unexpected_error_is_a_500_problem_that_tells_nothing() -> None:
    """The last resort: 500 internal-error, without the exception's text."""
    problem = to_problem(RuntimeError("secret internals"))
    assert (problem.status, problem.code) == (500, "internal-error")
    assert "secret" not in problem.detail


def test_redis_down_is_503_store_unavailable(tmp_path: Path) -> None:
    """With the store unreachable the API says so (503, Retry-After), never 500."""
    settings = settings_for(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    assert prepare_process(settings) is None
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    down = Api(settings=settings, app=build(settings), issuer=issuer, redis_url="")
    try:
        response = down.get("/api/v1/access-requests", who=BOB)
    finally:
        down.loop.close()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert problem_of(response)["code"] == "store-unavailable"
