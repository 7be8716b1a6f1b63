"""External processes for multi-process tests: a private redis-server and `costream serve`.

Readiness is a bounded polling loop (the only way to wait on another process);
everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen, timeout: float):
    """Poll `ready` until it holds; fail early if `process` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate, and kill if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Redis:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(log: Path, port: int | None = None) -> Redis:
    """A private, empty redis-server on 127.0.0.1 (on `port`: to restart one after a stop)."""
    port = port or free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )

    def pong() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_until(pong, "redis-server", process, 20)
    return Redis(process, port)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Node:
    """One `costream serve` process."""

    url: str
    process: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    """Costream processes sharing one database (SQLite file or PostgreSQL), one secret
    and one Redis."""

    nodes: list[Node]
    data_dir: Path
    secret: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str | None:
        """The shared PostgreSQL database, or None for the SQLite file in data_dir."""
        return self.env.get("COSTREAM_DATABASE_URL")

    def stop(self) -> None:
        for node in self.nodes:
            stop(node.process)


def server_env(data_dir: Path, secret: str, **settings: str) -> dict[str, str]:
    """The environment of a `costream serve` child: ours without COSTREAM_*, plus these."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("COSTREAM_")},
        "COSTREAM_DATA_DIR": str(data_dir),
        "COSTREAM_SECRET_KEY": secret,
        **{f"COSTREAM_{k.upper()}": v for k, v in settings.items()},
    }


def spawn_node(env: dict[str, str], log: Path, port: int | None = None) -> Node:
    """Start one `costream serve` on `port` (a free one by default); not yet ready."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port)],
        cwd=REPO,
        env={**env, "COSTREAM_PUBLIC_URL": url},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return Node(url, process, log)


def wait_ready(node: Node, timeout: float = 90) -> Node:
    wait_until(lambda: _healthy(node.url), f"costream at {node.url}", node.process, timeout)
    return node


def start_cluster(count: int, redis_url: str | None, data_dir: Path, **settings: str) -> Cluster:
    """`count` processes; one process may run without Redis (`redis_url` None)."""
    secret = "cluster-test-secret-key-0123456789"
    redis = {"redis_url": redis_url} if redis_url else {}
    env = server_env(data_dir, secret, **redis, **settings)
    nodes = [spawn_node(env, data_dir.parent / f"node{index}.log") for index in range(count)]
    cluster = Cluster(nodes, data_dir, secret, env)
    try:
        for node in nodes:
            wait_ready(node)
    except BaseException:
        cluster.stop()
        raise
    return cluster
