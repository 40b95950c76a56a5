"""When the image tests may skip: only when the kernel refuses containers, and then with the
kernel's own words in the test output (also under CI=true); any other failure fails."""

from __future__ import annotations

import pytest

from tests.packaging.image import CommandFailedError, skip_if_the_kernel_refuses

REFUSED = "unshare: unshare failed: Operation not permitted"


def test_a_kernel_refusal_skips_with_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container command refused by the kernel skips, quoting what the kernel said, even in
    CI."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception, match="Operation not permitted"):
        skip_if_the_kernel_refuses(["sh", "-c", f"echo '{REFUSED}' >&2; exit 1"], "namespaces")


def test_any_other_failure_fails() -> None:
    """A build that fails for another reason (a network error, a bad Dockerfile) is a failure."""
    with pytest.raises(CommandFailedError, match="no matching distribution"):
        skip_if_the_kernel_refuses(
            ["sh", "-c", "echo 'ERROR: no matching distribution' >&2; exit 1"], "a build"
        )


def test_a_working_kernel_does_not_skip() -> None:
    """A command that works changes nothing."""
    skip_if_the_kernel_refuses(["true"], "nothing")
