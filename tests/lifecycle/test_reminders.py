"""Reminders: sign up and cancel; at go-live a `reminder` on every connection of every
subscriber wherever they are (across processes with Redis), and e-mail over SMTP."""

from __future__ import annotations

import asyncio
import sqlite3

from server.auth import TokenService
from server.domain.times import utc_now
from server.keys import REMINDERS
from tests.helpers.api import Api
from tests.helpers.cluster import start_cluster
from tests.helpers.sio import Connect
from tests.lifecycle.conftest import Users


async def test_sign_up_and_cancel_count_on_the_stream(users: Users) -> None:
    stream = await users.show()
    path = f"/api/streams/{stream['id']}/reminder"
    await users.fails("POST", path, None, 401, "unauthorized")
    assert (await users.ok("POST", path, "bob"))["reminders"] == 1
    assert (await users.ok("POST", path, "bob"))["reminders"] == 1  # twice is once
    body = await users.ok("POST", path, "carol", json={"email": "carol@example.test"})
    assert body == {"reminders": 2, "reminded": True}
    await users.fails("POST", path, "dave", 400, "invalid_field", json={"email": "not-mail"})
    assert (await users.api.get_stream(stream["id"]))["reminders"] == 2
    assert (await users.ok("GET", path, "bob"))["reminded"] is True
    assert (await users.ok("DELETE", path, "bob"))["reminders"] == 1
    assert (await users.ok("GET", path, "bob")) == {"reminders": 1, "reminded": False}
    await users.api.end(users.tokens["hostess"], stream["id"])
    await users.fails("POST", path, "bob", 409, "stream_ended")


async def test_go_live_reminds_every_connection_and_mails(
    server_factory, settings_factory, smtp, connect: Connect
) -> None:
    inbox, port = smtp
    server = await server_factory(smtp_host="127.0.0.1", smtp_port=port, smtp_from="shows@test")
    async with Api(server.url) as api:
        users = Users(server, api)
        await users.add("hostess", "bob", "carol", "dave")
        show = await users.show(title="Sneaker night")
        other = await users.show(host="dave", title="Elsewhere")
        path = f"/api/streams/{show['id']}/reminder"
        await users.ok("POST", path, "bob", json={"email": "bob@example.test"})
        await users.ok("POST", path, "carol")  # no e-mail: the event only

        bob_home = await connect(server.url, users.tokens["bob"], "bob-home")  # joined nothing
        bob_other = await connect(server.url, users.tokens["bob"], "bob-other")
        await bob_other.ok("join", {"stream_id": other["id"]})
        carol = await connect(server.url, users.tokens["carol"], "carol")
        dave = await connect(server.url, users.tokens["dave"], "dave")

        started = await api.start(users.tokens["hostess"], show["id"])
        assert started["status"] == "live"
        for client in (bob_home, bob_other, carol):
            reminder = await client.next("reminder")
            assert reminder["stream"]["id"] == show["id"]
            assert reminder["stream"]["status"] == "live"
        messages = await inbox.wait_for(1)
        assert messages[0]["X-Rcpt"] == "bob@example.test"
        assert messages[0]["Subject"] == "Live now: Sneaker night"
        assert f"{server.settings.advertised_url}/watch/{show['id']}" in messages[0].get_payload()
        await server.app[REMINDERS].drain()
        await dave.barrier()
        assert dave.seen("reminder") == []
        assert len(inbox.messages) == 1

        # A restart is the same show: nobody is reminded twice.
        await api.end(users.tokens["hostess"], show["id"])
        await api.start(users.tokens["hostess"], show["id"])
        await server.app[REMINDERS].drain()
        await bob_home.barrier()
        assert len(bob_home.seen("reminder")) == 1


async def test_reminders_reach_other_processes_through_redis(
    redis_server, tmp_path, connect: Connect
) -> None:
    """Two `costream serve` processes on one database and one Redis: the subscriber is
    connected to the second, the host starts the show on the first."""
    data_dir = tmp_path / "data"
    cluster = await asyncio.to_thread(start_cluster, 2, redis_server.url, data_dir)
    try:
        tokens = TokenService(cluster.secret, 3600)
        with sqlite3.connect(data_dir / "costream.sqlite3") as db:
            db.executemany(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                [(name, "!unusable", utc_now().isoformat()) for name in ("hostess", "bob")],
            )
        host, bob = tokens.issue("hostess"), tokens.issue("bob")
        first, second = (node.url for node in cluster.nodes)
        async with Api(first) as api:
            show = await api.create_stream(host, title="Across")
            status, _ = await api.request("POST", f"/api/streams/{show['id']}/reminder", token=bob)
            assert status == 200
            bob_there = await connect(second, bob, "bob-on-second")
            await bob_there.barrier()
            await api.start(host, show["id"])
            reminder = await bob_there.next("reminder", timeout=15)
            assert reminder["stream"]["id"] == show["id"]
    finally:
        await asyncio.to_thread(cluster.stop)
