"""Fault suite fixtures: each scenario records one row (scenario, figure, verdict) through the
`scenario` fixture, and the end of the session prints the table.

Slow scenarios carry the `faults` marker, which the default run deselects (pyproject addopts);
`make faults` runs them all. A scenario that errors before measuring still gets a FAIL row.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.faults import results


class Scenario:
    """Records the row of one scenario test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.row: results.Row | None = None

    def record(self, figure: str, *, ok: bool) -> None:
        """Write the row; assert on `ok` afterwards so a failing scenario still has its row."""
        self.row = results.record(self.name, figure, ok=ok)


@pytest.fixture(scope="session", autouse=True)
def _fresh_table() -> None:
    """One table per session."""
    results.reset()


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """The recorder of this test's row, named after the test (without `test_`)."""
    return Scenario(request.node.name.removeprefix("test_"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Give a scenario that failed before recording a FAIL row saying what went wrong."""
    report = yield
    recorder = getattr(item, "funcargs", {}).get("scenario")
    if isinstance(recorder, Scenario) and recorder.row is None and report.failed:
        reason = call.excinfo.exconly().splitlines()[0] if call.excinfo else report.when
        recorder.record(f"not measured: {reason[:120]}", ok=False)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the table of every scenario that ran."""
    found = results.rows()
    if found:
        terminalreporter.write_sep("=", "fault scenarios")
        terminalreporter.write_line(results.table(found))
        terminalreporter.write_line(f"(also in {results.results_file()})")
