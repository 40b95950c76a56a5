"""Normalising request paths and hosts before matching, and refusing what is ambiguous."""

from __future__ import annotations

import pytest

from app.core.paths import MAX_PATH_LENGTH, HostError, PathError, normalize_host, normalize_path

# -- paths ------------------------------------------------------------------------------------


def test_plain_path_is_unchanged() -> None:
    """A clean path comes back as it was."""
    assert normalize_path("/api/v1/users") == "/api/v1/users"


def test_dot_dot_segment_is_resolved() -> None:
    """`/public/../admin` is `/admin`, so it is judged by the /admin policies."""
    assert normalize_path("/public/../admin") == "/admin"


def test_single_dot_segments_are_dropped() -> None:
    """`/a/./b/.` is `/a/b/`."""
    assert normalize_path("/a/./b/.") == "/a/b/"


def test_repeated_slashes_are_folded() -> None:
    """`//admin///users` is `/admin/users`."""
    assert normalize_path("//admin///users") == "/admin/users"


def test_encoded_dot_dot_is_decoded_then_resolved() -> None:
    """`/public/%2e%2e/admin` is `/admin` (decoded once, then resolved)."""
    assert normalize_path("/public/%2e%2e/admin") == "/admin"


def test_mixed_case_encoded_dots_are_decoded() -> None:
    """`%2E.` and `.%2e` are dot-dot segments too."""
    assert normalize_path("/a/b/%2E./c") == "/a/c"
    assert normalize_path("/a/b/.%2e/c") == "/a/c"


def test_percent_escapes_are_decoded_once() -> None:
    """`%61dmin` is `admin`, and a double-encoded `%2561` stays `%61`."""
    assert normalize_path("/%61dmin") == "/admin"
    assert normalize_path("/%2561dmin") == "/%61dmin"


def test_utf8_escapes_are_decoded() -> None:
    """`%C3%A9` is é."""
    assert normalize_path("/caf%C3%A9") == "/café"


def test_query_and_fragment_are_dropped() -> None:
    """The query and fragment play no part in routing."""
    assert normalize_path("/a/b?x=/../admin#frag") == "/a/b"


@pytest.mark.parametrize("raw", ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5cb", "/a%00b"])
def test_encoded_slash_backslash_and_nul_are_refused(raw: str) -> None:
    """`%2F`, `%5C` and `%00` cannot be normalised without guessing what the backend does."""
    with pytest.raises(PathError, match="encoded slash, backslash or NUL"):
        normalize_path(raw)


@pytest.mark.parametrize("raw", ["/a\\b", "/a\x01b", "/a%0Ab", "/a%7Fb", "/a\tb"])
def test_backslash_and_control_characters_are_refused(raw: str) -> None:
    """A raw backslash, or a control character raw or encoded, is refused."""
    with pytest.raises(PathError, match="backslash or a control character"):
        normalize_path(raw)


@pytest.mark.parametrize("raw", ["/%ff", "/%c0%ae%c0%ae/admin", "/%e2%82"])
def test_invalid_utf8_is_refused(raw: str) -> None:
    """Invalid UTF-8 (including overlong dots) is refused, not replaced."""
    with pytest.raises(PathError, match="not valid UTF-8"):
        normalize_path(raw)


@pytest.mark.parametrize("raw", ["/..", "/../etc/passwd", "/a/../../b", "/%2e%2e/admin"])
def test_climbing_above_the_root_is_refused(raw: str) -> None:
    """A `..` with nothing left to remove is refused rather than clamped."""
    with pytest.raises(PathError, match="above the root"):
        normalize_path(raw)


def test_trailing_slash_is_kept() -> None:
    """`/a/b/` keeps its trailing slash (the index treats it as `/a/b`)."""
    assert normalize_path("/a/b/") == "/a/b/"


def test_trailing_dot_dot_leaves_a_trailing_slash() -> None:
    """`/a/b/..` is the directory `/a/`."""
    assert normalize_path("/a/b/..") == "/a/"


def test_root_variants_normalise_to_root() -> None:
    """`/`, `//` and `/a/..` are all the root."""
    assert normalize_path("/") == "/"
    assert normalize_path("//") == "/"
    assert normalize_path("/a/..") == "/"


def test_dot_files_are_ordinary_segments() -> None:
    """`/.well-known/x` is not a dot segment."""
    assert (
        normalize_path("/.well-known/openid-configuration") == "/.well-known/openid-configuration"
    )


@pytest.mark.parametrize("raw", ["", "api/v1", "http://x/a", "*"])
def test_path_must_start_with_a_slash(raw: str) -> None:
    """Relative and absolute-URI forms are refused."""
    with pytest.raises(PathError, match="must start with '/'"):
        normalize_path(raw)


def test_overlong_path_is_refused() -> None:
    """A path longer than the limit is refused."""
    with pytest.raises(PathError, match="too long"):
        normalize_path("/" + "a" * MAX_PATH_LENGTH)


# -- hosts ------------------------------------------------------------------------------------


def test_host_is_lower_cased() -> None:
    """`Grafana.Example.COM` is `grafana.example.com`."""
    assert normalize_host("Grafana.Example.COM") == "grafana.example.com"


def test_host_port_is_dropped() -> None:
    """`grafana.example.com:8443` is `grafana.example.com`."""
    assert normalize_host("grafana.example.com:8443") == "grafana.example.com"


def test_host_trailing_dot_is_dropped() -> None:
    """The fully-qualified `grafana.example.com.` (with or without port) is the same host."""
    assert normalize_host("grafana.example.com.") == "grafana.example.com"
    assert normalize_host("grafana.example.com.:443") == "grafana.example.com"


def test_host_surrounding_whitespace_is_dropped() -> None:
    """Whitespace around the Host header value is ignored."""
    assert normalize_host("  grafana.example.com ") == "grafana.example.com"


def test_ipv4_literal_host() -> None:
    """An IPv4 address with a port is the address."""
    assert normalize_host("192.0.2.10:8080") == "192.0.2.10"


def test_ipv6_literal_keeps_its_brackets() -> None:
    """`[2001:DB8::1]:8443` is `[2001:db8::1]`."""
    assert normalize_host("[2001:DB8::1]:8443") == "[2001:db8::1]"


def test_ipv6_literal_with_embedded_ipv4() -> None:
    """`[::ffff:192.0.2.1]` is accepted as written."""
    assert normalize_host("[::ffff:192.0.2.1]") == "[::ffff:192.0.2.1]"


@pytest.mark.parametrize("raw", ["[::1", "[]", "[zz::1]", "[::1]x", "[::1]:", "[::1]:99999"])
def test_bad_ipv6_literals_are_refused(raw: str) -> None:
    """Unclosed, empty, non-hex or badly-ported IPv6 literals are refused."""
    with pytest.raises(HostError, match="IPv6"):
        normalize_host(raw)


@pytest.mark.parametrize("raw", ["example.com:", "example.com:0", "example.com:65536", "a.com:x"])
def test_bad_ports_are_refused(raw: str) -> None:
    """Empty, zero, out-of-range or non-numeric ports are refused."""
    with pytest.raises(HostError, match="invalid port"):
        normalize_host(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "exa mple.com",
        "a_b.example.com",
        "evil.com/path",
        "user@example.com",
        "a..b.com",
        "-a.example.com",
        "exa$mple.com",
        "é.example.com",
        "a" * 64 + ".com",
    ],
)
def test_garbage_hosts_are_refused(raw: str) -> None:
    """Anything but a plain DNS name or address is refused."""
    with pytest.raises(HostError):
        normalize_host(raw)


@pytest.mark.parametrize("raw", ["", "   ", "a." * 200 + "com"])
def test_empty_or_overlong_host_is_refused(raw: str) -> None:
    """An empty or absurdly long Host header is refused."""
    with pytest.raises(HostError, match="empty or too long"):
        normalize_host(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/healthz/..;/dashboard",
        "/a/.;x/b",
        "/;jsessionid=1/admin",
        "/healthz/%2e%2e;/admin",
        "/x/..%3B/admin",
    ],
)
def test_path_parameters_on_dot_or_empty_segments_are_refused(raw: str) -> None:
    """`..;` is `..` to Tomcat, Jetty and Spring: refuse rather than guess."""
    with pytest.raises(PathError):
        normalize_path(raw)


def test_path_parameters_on_ordinary_segments_pass() -> None:
    """`;` inside an ordinary segment (matrix parameters) is left alone."""
    assert normalize_path("/files/report;v=2") == "/files/report;v=2"
