"""The deployment of docs/scaling.md, as far as this machine can run it (no Docker
engine here): compose.yaml's settings are valid and agree with the balancer, and
Debian's nginx with deploy/nginx.conf in front of three `costream serve` processes on
one Redis carries the API, Socket.IO (websocket and long polling), WHIP and WHEP, and
lets the per-address limits see each client, not the balancer."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
import yaml

from server.config import load_settings
from tests.helpers.cluster import REPO, Cluster, Redis, start_cluster
from tests.helpers.nginx import Nginx, start_balancer
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer
from tests.realtime.conftest import Connect
from tests.realtime.test_cluster import People, live_stream
from tests.realtime.test_invite_media import showing

pytestmark = pytest.mark.slow

COMPOSE = REPO / "compose.yaml"
SITE = REPO / "deploy" / "nginx.conf"
# `${VAR:-default}` and `${VAR:?message}`, as compose interpolates them.
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}")


def _interpolated(value: str) -> str:
    """The value with each variable at its default (a required one set to "set")."""
    return _VARIABLE.sub(lambda m: m[2] if m[2] is not None else "set", value)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _costream_services(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each Costream service's environment, interpolated."""
    return {
        name: {key: _interpolated(str(value)) for key, value in service["environment"].items()}
        for name, service in compose["services"].items()
        if name.startswith("costream-")
    }


def test_compose_settings_are_valid_and_match_the_balancer() -> None:
    services = _costream_services(_compose())
    assert len(services) == 3
    ports = []
    for name, env in services.items():
        settings = load_settings(env=env)  # unknown or malformed settings raise here
        assert settings.redis_url and settings.database_url, name
        assert settings.public_url.endswith(f":{settings.port}"), name
        # The balancer reaches every process from 127.0.0.1 (host networking): it must
        # be trusted, or every client behind it shares one address's limits.
        trusted = [ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies]
        assert any(ipaddress.ip_address("127.0.0.1") in net for net in trusted), name
        ports.append(settings.port)
    upstreams = [int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+);", SITE.read_text())]
    assert upstreams == ports


@pytest.fixture(scope="module")
def cluster(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # The processes run with compose.yaml's trusted proxies.
    trusted = _costream_services(_compose())["costream-1"]["COSTREAM_TRUSTED_PROXIES"]
    data_dir = tmp_path_factory.mktemp("deployment") / "data"
    running = start_cluster(
        3, redis_server.url, data_dir, trusted_proxies=trusted, auth_rate_limit="2"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def balancer(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    ports = [int(node.url.rsplit(":", 1)[1]) for node in cluster.nodes]
    nginx = start_balancer(tmp_path_factory.mktemp("balancer"), SITE, ports)
    yield nginx
    nginx.stop()


async def _failed_logins(balancer: Nginx, client_address: str, attempts: int) -> list[int]:
    """Wrong-password logins through the balancer from `client_address` (127.0.0.x),
    each claiming in X-Forwarded-For to be someone else."""
    connector = aiohttp.TCPConnector(local_addr=(client_address, 0))
    statuses = []
    async with aiohttp.ClientSession(connector=connector) as http:
        for attempt in range(attempts):
            async with http.post(
                f"{balancer.url}/api/auth/login",
                json={"username": "nobody_here", "password": "x" * 8},
                headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
            ) as response:
                statuses.append(response.status)
    return statuses


async def test_each_client_behind_the_balancer_has_its_own_limits(balancer: Nginx) -> None:
    # auth_rate_limit 2: the third attempt from one client is refused, whatever it
    # forges, while another client behind the same balancer still gets in line.
    assert await _failed_logins(balancer, "127.0.0.2", 3) == [401, 401, 429]
    assert await _failed_logins(balancer, "127.0.0.3", 1) == [401]


async def test_the_show_through_the_balancer(
    cluster: Cluster, balancer: Nginx, connect: Connect
) -> None:
    people = People(cluster)
    stream_id, _, host_token = await live_stream(cluster, people)
    bob_name, bob_token = people.add("bob")
    carol_name, carol_token = people.add("carol")
    join = {"stream_id": stream_id}

    # Socket.IO through the balancer (websocket upgrade) and straight to a process.
    host = await connect(balancer.url, host_token, "host@balancer")
    await host.ok("join", join)
    bob = await connect(cluster.nodes[2].url, bob_token, "bob@3")
    await bob.ok("join", join)
    # Long polling needs every request of a session on one process: sticky balancing.
    carol = socketio.AsyncClient(reconnection=False)
    heard: dict[str, asyncio.Event] = {}
    carol.on("mention", lambda data: heard.setdefault(data["message"]["id"], asyncio.Event()).set())
    await carol.connect(
        balancer.url, auth={"token": carol_token}, transports=["polling"], wait_timeout=10
    )
    try:
        assert carol.transport() == "polling"
        assert (await carol.call("join", join, timeout=10))["ok"] is True
        sent = await carol.call("chat:send", {"text": f"hi @{bob_name}"}, timeout=10)
        assert sent["ok"] is True, sent
        assert (await bob.next("chat:message", timeout=10))["id"] == sent["message"]["id"]
        said = (await bob.ok("chat:send", {"text": f"hello @{carol_name}"}))["message"]
        assert await host.next("chat:message", lambda m: m["id"] == said["id"], timeout=10)
        # Polled from the process that holds Carol's session, whichever one Bob's is on.
        async with asyncio.timeout(10):
            await heard.setdefault(said["id"], asyncio.Event()).wait()
    finally:
        # Not the graceful disconnect: python-engineio's polling client then waits for
        # its pending long poll, which the server answers only at the next ping (25 s).
        await carol.eio.disconnect(abort=True)

    # WHIP and WHEP through the balancer: the sessions' Location is relative, so
    # PATCH and DELETE come back through it too.
    whip, whep = f"/whip/{stream_id}", f"/whep/{stream_id}"
    peers: list[Publisher | Viewer] = []
    try:
        peers.append(await Publisher(RED, 440).start(HttpSignal(balancer.url, whip, host_token)))
        signals = [HttpSignal(balancer.url, whep), HttpSignal(cluster.nodes[1].url, whep)]
        viewers = [Viewer() for _ in signals]
        peers.extend(viewers)
        for viewer, signal in zip(viewers, signals, strict=True):
            await viewer.start(signal)
        for viewer in viewers:
            await viewer.wait_for(showing(viewer, "red", "red"), timeout=30)
        assert await signals[0].delete() == 200
    finally:
        for peer in peers:
            await peer.close()
    served = Path(balancer.prefix / "access.log").read_text()
    assert f"POST {whep} " in served and "DELETE /whep/" in served
