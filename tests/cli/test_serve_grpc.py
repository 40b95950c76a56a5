"""`countersign serve --grpc-port`: the gRPC port is checked with the HTTP one, before anything
starts (the end-to-end suite runs the service with it: tests/e2e/test_envoy_grpc.py)."""

from __future__ import annotations

import socket

from app.cli import build_parser
from app.cli.serve_app import grpc_port_problem
from tests.support.ports import LOOPBACK, free_port


def test_a_free_grpc_port_is_no_problem() -> None:
    """A port nothing listens on can be the gRPC listener's."""
    assert grpc_port_problem(LOOPBACK, free_port()) is None


def test_no_grpc_port_is_no_problem() -> None:
    """Unset: no gRPC listener, nothing to check."""
    assert grpc_port_problem(LOOPBACK, None) is None


def test_a_taken_grpc_port_is_one_line_naming_it_and_the_setting() -> None:
    """A port another process listens on stops `serve` with one line saying which."""
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = grpc_port_problem(LOOPBACK, port)
    assert problem is not None
    assert problem.startswith(f"cannot listen on {LOOPBACK}:{port} for gRPC: ")
    assert problem.endswith("(COUNTERSIGN_GRPC_PORT)")
    assert "\n" not in problem


def test_serve_takes_a_grpc_port_flag() -> None:
    """`--grpc-port N` is parsed as a number."""
    args = build_parser().parse_args(["serve", "--grpc-port", "9191"])
    assert args.grpc_port == 9191
