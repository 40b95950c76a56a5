"""Run the shipped proxy configurations in deploy/ with the real nginx, Traefik, Envoy and Caddy.

Each file is copied to a temp directory with only its ports (and, where a file names another
file or a temp path, those paths) changed, so the tests exercise the very text operators copy.
A port the file should contain but does not is an error: a silently unchanged port would
point a test at whatever else listens on the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support import components
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess

DEPLOY = components.REPO_ROOT / "deploy"
#: Countersign's public host in the shipped configs; its requests skip the check.
PUBLIC_HOST = "auth.example.com"
DEFAULT_COUNTERSIGN_PORT = 8080
DEFAULT_BACKEND_PORT = 9000
DEFAULT_PROXY_PORTS = {"nginx": 8000, "traefik": 8001, "envoy": 8002, "caddy": 8003}
PROXIES = tuple(DEFAULT_PROXY_PORTS)
START_TIMEOUT = 20.0
#: How long each shipped configuration keeps an idle connection to Countersign (it must stay
#: below COUNTERSIGN_KEEPALIVE_TIMEOUT): the directive as each file spells it, and how many
#: times the file sets it.
SHIPPED_UPSTREAM_IDLE = "60s"
_UPSTREAM_IDLE: dict[str, tuple[str, int]] = {
    "nginx": ("keepalive_timeout {};", 1),
    "envoy": ("idle_timeout: {}", 1),
    "traefik": ("idleConnTimeout: {}", 1),
    "caddy": ("keepalive {}", 2),
}


@dataclass(frozen=True, slots=True)
class Ports:
    """Where Countersign, the protected backend and the proxy itself listen."""

    countersign: int
    backend: int
    proxy: int


@dataclass
class RunningProxy:
    """A proxy process serving a rendered configuration."""

    name: str
    port: int
    directory: Path
    process: ManagedProcess

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT; send an explicit Host header with every request."""
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        """Stop the proxy and every process it started."""
        self.process.stop()


def substitute_ports(text: str, replacements: dict[int, int], *, source: str) -> str:
    """Replace each default port number with the test's port; every default must occur."""
    for default, actual in replacements.items():
        pattern = re.compile(rf"(?<![0-9]){default}(?![0-9])")
        if not pattern.search(text):
            raise ValueError(f"{source} does not mention port {default}")
        text = pattern.sub(str(actual), text)
    return text


def _replace_once(text: str, old: str, new: str, *, source: str) -> str:
    if old not in text:
        raise ValueError(f"{source} does not contain {old!r}")
    return text.replace(old, new)


def render(
    relative: str, replacements: dict[int, int], *, idle: tuple[str, float] | None = None
) -> str:
    """The text of deploy/<relative> with its default ports replaced.

    `idle` = (proxy name, seconds) also sets the proxy's idle timeout to Countersign.
    """
    source = DEPLOY / relative
    text = substitute_ports(source.read_text(), replacements, source=str(source))
    if idle is not None:
        text = set_upstream_idle(idle[0], text, idle[1], source=str(source))
    return text


def set_upstream_idle(name: str, text: str, seconds: float, *, source: str) -> str:
    """`text` (proxy `name`'s shipped config) with its idle timeout to Countersign set to `seconds`.

    Every place the shipped file sets it must be there: a file that lost one would silently
    keep the proxy's own default (Envoy: an hour) in the test and in production.
    """
    spelling, expected = _UPSTREAM_IDLE[name]
    shipped = spelling.format(SHIPPED_UPSTREAM_IDLE)
    found = text.count(shipped)
    if found != expected:
        raise ValueError(f"{source} sets {shipped!r} {found} times, expected {expected}")
    # Envoy reads protobuf durations (seconds with a fraction); the others take milliseconds.
    value = f"{seconds:g}s" if name == "envoy" else f"{round(seconds * 1000)}ms"
    return text.replace(shipped, spelling.format(value))


def _all_ports(name: str, ports: Ports) -> dict[int, int]:
    return {
        DEFAULT_COUNTERSIGN_PORT: ports.countersign,
        DEFAULT_BACKEND_PORT: ports.backend,
        DEFAULT_PROXY_PORTS[name]: ports.proxy,
    }


def _idle(name: str, seconds: float | None) -> tuple[str, float] | None:
    return None if seconds is None else (name, seconds)


def _nginx(ports: Ports, directory: Path, idle: float | None) -> list[str]:
    text = render("nginx/countersign.conf", _all_ports("nginx", ports), idle=_idle("nginx", idle))
    # nginx keeps temp files and the access log under paths fixed at build time; a distro
    # build points them at /var, so every one is pinned to this directory.
    temp = "".join(
        f"    {directive} {directory / path};\n"
        for directive, path in (
            ("client_body_temp_path", "client_body_temp"),
            ("proxy_temp_path", "proxy_temp"),
            ("fastcgi_temp_path", "fastcgi_temp"),
            ("uwsgi_temp_path", "uwsgi_temp"),
            ("scgi_temp_path", "scgi_temp"),
            ("access_log", "access.log"),
        )
    )
    text = re.sub(r"^http \{\n", lambda m: m.group(0) + temp, text, count=1, flags=re.MULTILINE)
    config = directory / "nginx.conf"
    config.write_text(text)
    globals_ = f"daemon off; pid {directory / 'nginx.pid'};"
    if os.geteuid() == 0:
        # As root, workers would switch to `nobody`, who cannot enter the private temp dir.
        globals_ += " user root;"
    return [
        components.nginx(),
        "-p", f"{directory}/",
        "-c", str(config),
        "-e", "stderr",
        "-g", globals_,
    ]  # fmt: skip


def _traefik(ports: Ports, directory: Path, idle: float | None) -> list[str]:
    # The listener is in the static file, the upstreams in the dynamic one it names.
    dynamic = directory / "dynamic.yml"
    dynamic.write_text(
        render(
            "traefik/dynamic.yml",
            {DEFAULT_COUNTERSIGN_PORT: ports.countersign, DEFAULT_BACKEND_PORT: ports.backend},
            idle=_idle("traefik", idle),
        )
    )
    static = render("traefik/traefik.yml", {DEFAULT_PROXY_PORTS["traefik"]: ports.proxy})
    static = _replace_once(static, "/etc/traefik/dynamic.yml", str(dynamic), source="traefik.yml")
    config = directory / "traefik.yml"
    config.write_text(static)
    return [components.traefik(), f"--configFile={config}"]


def _envoy(ports: Ports, directory: Path, idle: float | None) -> list[str]:
    config = directory / "envoy.yaml"
    config.write_text(
        render("envoy/envoy.yaml", _all_ports("envoy", ports), idle=_idle("envoy", idle))
    )
    return [
        components.envoy(),
        "-c", str(config),
        # Several Envoys on one host: no shared-memory hot-restart region to collide on.
        "--disable-hot-restart",
        "--concurrency", "1",
        "--log-level", "warn",
    ]  # fmt: skip


def _caddy(ports: Ports, directory: Path, idle: float | None) -> list[str]:
    config = directory / "Caddyfile"
    config.write_text(
        render("caddy/Caddyfile", _all_ports("caddy", ports), idle=_idle("caddy", idle))
    )
    return [components.caddy(), "run", "--config", str(config), "--adapter", "caddyfile"]


_COMMANDS: dict[str, Callable[[Ports, Path, float | None], list[str]]] = {
    "nginx": _nginx,
    "traefik": _traefik,
    "envoy": _envoy,
    "caddy": _caddy,
}


def start_proxy(
    name: str, ports: Ports, directory: Path, *, upstream_idle: float | None = None
) -> RunningProxy:
    """Render `deploy/<name>` for `ports` into `directory`, start it, and wait until it routes.

    `upstream_idle` (seconds) replaces the shipped idle timeout to Countersign; unset, the file's
    own value stays.

    Ready means a request for Countersign's sign-in page on its public host gets any answer
    but 404: Traefik listens before its file provider has loaded the routers, and answers 404
    until then. (/healthz is not public: the shipped configs answer 403/404 for it there.)
    """
    directory.mkdir(parents=True, exist_ok=True)
    argv = _COMMANDS[name](ports, directory, upstream_idle)
    env = dict(os.environ)
    # Caddy writes state under XDG directories; keep it out of the user's home.
    env.update(
        XDG_CONFIG_HOME=str(directory / "xdg-config"),
        XDG_DATA_HOME=str(directory / "xdg-data"),
        HOME=str(directory),
    )
    process = ManagedProcess(name, argv, log_path=directory / f"{name}.log", env=env, cwd=directory)
    process.wait_for_http(
        ports.proxy,
        "/login",
        host=PUBLIC_HOST,
        ready=lambda status: status != 404,
        timeout=START_TIMEOUT,
    )
    return RunningProxy(name, ports.proxy, directory, process)


class ProxyPool:
    """Starts each proxy on first use and keeps it for the session, whatever the test order.

    `upstream_idle` (seconds) replaces the shipped idle timeout to Countersign in every proxy.
    """

    def __init__(
        self,
        root: Path,
        *,
        countersign_port: int,
        backend_port: int,
        upstream_idle: float | None = None,
    ) -> None:
        self._root = root
        self._countersign_port = countersign_port
        self._backend_port = backend_port
        self._upstream_idle = upstream_idle
        self._ports: dict[str, int] = {}
        self._running: dict[str, RunningProxy] = {}

    def reserve(self, ports: dict[str, int]) -> None:
        """Use these listening ports (e.g. the one named in COUNTERSIGN_PUBLIC_URL)."""
        self._ports.update(ports)

    def get(self, name: str) -> RunningProxy:
        """The running proxy `name`, started now if needed."""
        running = self._running.get(name)
        if running is None:
            ports = Ports(
                countersign=self._countersign_port,
                backend=self._backend_port,
                proxy=self._ports.get(name) or free_port(),
            )
            running = start_proxy(name, ports, self._root / name, upstream_idle=self._upstream_idle)
            self._running[name] = running
        return running

    def stop_all(self) -> None:
        """Stop every proxy started."""
        for running in self._running.values():
            running.stop()
        self._running.clear()
