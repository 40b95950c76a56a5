"""Normalising request paths and hosts before matching, and refusing what is ambiguous."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.paths import (
    MAX_PATH_LENGTH,
    HostError,
    PathError,
    normalize_authority,
    normalize_host,
    normalize_path,
)

MODEST = settings(max_examples=300, deadline=None)

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
    """`%61dmin` is `admin`."""
    assert normalize_path("/%61dmin") == "/admin"


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


# -- the refusal table: what a common backend could read differently -------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "/admin;jsessionid=x",
        "/files/report;v=2",
        "/admin;",
        "/a/b;c=d/e",
        "/admin%3Bjsessionid=x",
        "/admin%3bx",
    ],
)
def test_parameters_on_any_segment_are_refused(raw: str) -> None:
    """`/admin;jsessionid=x` is `/admin` to servlet backends, so any `;`, raw or encoded, is 400."""
    with pytest.raises(PathError, match="';' parameter"):
        normalize_path(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/public/%252e%252e/admin",
        "/%2561dmin",
        "/a/%252E/b",
        "/a%252Fb",
        "/a%255Cb",
        "/public/%25%32%65%25%32%65/admin",
        "/a%%32%65",
    ],
)
def test_double_encoding_is_refused(raw: str) -> None:
    """An escape left after one decoding (`%252e` → `%2e`) is a `.` to a twice-decoding backend."""
    with pytest.raises(PathError, match="double-encoded"):
        normalize_path(raw)


def test_a_percent_that_is_no_escape_is_kept() -> None:
    """`%25` for a literal `%` not followed by two hex digits stays a plain `%`."""
    assert normalize_path("/discount/100%25") == "/discount/100%"
    assert normalize_path("/a/%25zz") == "/a/%zz"


@pytest.mark.parametrize("raw", ["/admin%3F/../public", "/a%3fb", "/admin%23/../public"])
def test_encoded_query_and_fragment_delimiters_are_refused(raw: str) -> None:
    """After decoding, a `?` or `#` is where a re-parsing backend would cut the path."""
    with pytest.raises(PathError, match=r"encoded '\?' or '#'"):
        normalize_path(raw)


LOOK_ALIKES = {
    "fullwidth-full-stop": "\uff0e",
    "one-dot-leader": "\u2024",
    "two-dot-leader": "\u2025",
    "small-full-stop": "\ufe52",
    "halfwidth-ideographic-full-stop": "\uff61",
    "ideographic-full-stop": "\u3002",
    "fullwidth-solidus": "\uff0f",
    "division-slash": "\u2215",
    "fraction-slash": "\u2044",
    "big-solidus": "\u29f8",
    "fullwidth-reverse-solidus": "\uff3c",
    "small-reverse-solidus": "\ufe68",
    "set-minus": "\u2216",
    "greek-question-mark": "\u037e",
    "fullwidth-semicolon": "\uff1b",
    "fullwidth-percent": "\uff05",
    "fullwidth-question-mark": "\uff1f",
    "fullwidth-number-sign": "\uff03",
}


@pytest.mark.parametrize("char", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "encoded"])
def test_unicode_look_alikes_of_delimiters_are_refused(char: str, encoded: bool) -> None:
    """Two fullwidth dots are `..` to an NFKC-normalising backend: refused, raw or encoded."""
    doubled = quote(char * 2) if encoded else char * 2
    with pytest.raises(PathError, match="looks like or becomes"):
        normalize_path(f"/public/{doubled}/admin")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/wiki/Café", "/wiki/Café"),
        ("/wiki/Caf%C3%A9", "/wiki/Café"),
        ("/wiki/Stra%C3%9Fe", "/wiki/Straße"),
        ("/%E3%83%8E%E3%83%BC%E3%83%88", "/ノート"),
        ("/wiki/%CE%95%CE%BB%CE%BB%CE%AC%CE%B4%CE%B1", "/wiki/Ελλάδα"),
        ("/wiki/para%C2%B7lel", "/wiki/para·lel"),
        ("/%D9%A0", "/٠"),
        ("/wiki/%EF%BC%A1", "/wiki/Ａ"),
    ],
)
def test_legitimate_non_ascii_segments_are_kept(raw: str, normal: str) -> None:
    """Letters and digits of any script pass, decoded, even those that resemble a delimiter."""
    assert normalize_path(raw) == normal


@pytest.mark.parametrize("raw", ["/a%C2%85b", "/a%C2%9Fb", "/a%E2%80%A8b", "/a%E2%80%A9b"])
def test_c1_controls_and_unicode_line_breaks_are_refused(raw: str) -> None:
    """NEL and the other C1 controls, and U+2028/U+2029, are control characters too."""
    with pytest.raises(PathError, match="control character"):
        normalize_path(raw)


# -- the refusal table as invariants --------------------------------------------------------

#: Pieces that make paths interesting: dot segments, escapes, parameters and look-alikes.
PIECES = [
    "a",
    "admin",
    "é",
    "ノ",
    ".",
    "..",
    "",
    "%2e",
    "%2E%2e",
    "%252e",
    "%25",
    "%2561",
    "%25%32%65",
    "%",
    "%zz",
    ";",
    ";jsessionid=1",
    "%3B",
    "%3F",
    "%23",
    "%C3%A9",
    "%EF%BC%8E",
    "%E2%80%A4",
    "\uff0e",
    "\u2024",
    "\u2215",
    "\u2044",
    "\u29f8",
    "\uff61",
    "\uff0f",
    "\\",
    "%5C",
    "%2F",
    "%00",
    "%C2%85",
    "%ff",
    "?x",
    "#f",
]
#: An oracle independent of the code under test: characters that look like a delimiter.
KNOWN_LOOK_ALIKES = frozenset("\u2024\u2215\u2044\u29f8\u2216\u3002\uff61")
DELIMITERS = frozenset("./\\;?#%")

any_segment = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=3).map(
    "".join
)
any_path = st.lists(any_segment, max_size=6).map(lambda segments: "/" + "/".join(segments))

SAFE_CHARS = [*"abcxyzABCXYZ0129-_~", "é", "ß", "ノ", "Ω", "ж", "中", "·", "٠", "ü"]
safe_segment = st.text(alphabet=st.sampled_from(SAFE_CHARS), min_size=1, max_size=8)
safe_path = st.lists(safe_segment, min_size=1, max_size=6).map(
    lambda segments: "/" + "/".join(segments)
)
DANGEROUS = [";", "%3B", "%252e", "%25%32%65", "%3F", "%23", "\uff0e", "%EF%BC%8E", "\u2024"]
DANGEROUS += ["\u2215", "\u2044", "\u29f8", "\uff0f", "%EF%BC%8F", "\uff61", "\ufe52"]


def _looks_like_a_delimiter(char: str) -> bool:
    if char.isascii():
        return False
    compatible = unicodedata.normalize("NFKC", char)
    return char in KNOWN_LOOK_ALIKES or any(
        c in DELIMITERS or c in KNOWN_LOOK_ALIKES for c in compatible
    )


@MODEST
@given(any_path)
def test_a_path_is_refused_or_comes_back_clean(raw: str) -> None:
    """Refused, or clean (no `;?#\\`, escape, look-alike, dot or empty segment) and stable."""
    try:
        normal = normalize_path(raw)
    except PathError:
        return
    assert normal.startswith("/")
    assert not set(";?#\\") & set(normal)
    assert unquote(normal) == normal
    assert not any(_looks_like_a_delimiter(c) for c in normal)
    segments = normal.split("/")[1:]
    assert not {".", ".."} & set(segments)
    assert "" not in segments[:-1]
    assert normalize_path(normal) == normal


@MODEST
@given(safe_path)
def test_a_path_of_safe_segments_is_accepted_unchanged(path: str) -> None:
    """Letters, digits, `-_~` and non-ASCII letters pass through as they are."""
    assert normalize_path(path) == path


@MODEST
@given(safe_path)
def test_percent_encoding_a_safe_path_does_not_change_its_normal_form(path: str) -> None:
    """`/caf%C3%A9` and `/café` are the same path."""
    assert normalize_path(quote(path)) == path


@MODEST
@given(safe_path, st.sampled_from(DANGEROUS), st.data())
def test_a_dangerous_piece_anywhere_is_refused(path: str, piece: str, data: st.DataObject) -> None:
    """Inserting a `;`, a double escape, an encoded `?`/`#` or a look-alike anywhere is a 400."""
    at = data.draw(st.integers(min_value=1, max_value=len(path)))
    with pytest.raises(PathError):
        normalize_path(path[:at] + piece + path[at:])


# -- authorities for `rd` ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "scheme", "authority"),
    [
        ("App.Example.COM:8443", "https", "app.example.com:8443"),
        ("app.example.com:8080", "http", "app.example.com:8080"),
        ("app.example.com:443", "http", "app.example.com:443"),
        ("app.example.com:80", "https", "app.example.com:80"),
        ("app.example.com.:08443", "https", "app.example.com:8443"),
        ("[2001:DB8::1]:8443", "https", "[2001:db8::1]:8443"),
        ("192.0.2.10:9000", "http", "192.0.2.10:9000"),
    ],
)
def test_authority_keeps_a_non_default_port(raw: str, scheme: str, authority: str) -> None:
    """A port other than the scheme's default stays in the URL that `rd` carries."""
    assert normalize_authority(raw, scheme=scheme) == authority


@pytest.mark.parametrize(
    ("raw", "scheme", "authority"),
    [
        ("app.example.com:443", "https", "app.example.com"),
        ("app.example.com:80", "http", "app.example.com"),
        ("App.Example.com", "https", "app.example.com"),
        ("[::1]:443", "https", "[::1]"),
    ],
)
def test_authority_drops_the_default_port(raw: str, scheme: str, authority: str) -> None:
    """`:443` for https and `:80` for http are dropped, as a browser would."""
    assert normalize_authority(raw, scheme=scheme) == authority


@pytest.mark.parametrize("raw", ["example.com:0", "example.com:65536", "a.com:x", "[::1]:"])
def test_authority_refuses_what_the_host_refuses(raw: str) -> None:
    """A bad port is as bad for `rd` as for matching."""
    with pytest.raises(HostError):
        normalize_authority(raw, scheme="https")
