"""The data dir is private (0700, files 0600), and listings come in bounded pages:
`join` carries the newest and says whether there are more; REST pages the rest."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.helpers.api import Api
from tests.helpers.room import Room, make_room
from tests.helpers.server import add_user
from tests.server.test_accounts import assert_error


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_the_data_dir_and_its_files_are_private(server_factory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Even under a lax umask, and over a data dir an older version left world-readable.
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "costream.sqlite3").touch()
    os.chmod(data / "costream.sqlite3", 0o644)
    previous = os.umask(0o022)
    try:
        server = await server_factory()
        async with Api(server.url) as api:
            token = await add_user(server, "hostess")
            await api.create_stream(token, title="Private")
        files = ["costream.sqlite3", "costream.sqlite3-wal", "costream.sqlite3-shm", "secret_key"]
        assert mode(data) == 0o700
        for name in files:
            assert mode(data / name) == 0o600, name
    finally:
        os.umask(previous)


async def make_listings(room: Room, count: int) -> list[str]:
    ids = []
    for i in range(count):
        status, body = await room.api.request(
            "POST",
            f"/api/streams/{room.stream_id}/listings",
            token=room.tokens["hostess"],
            json={"title": f"Item {i}", "price_cents": 100 + i, "quantity": 1},
        )
        assert status == 201, body
        ids.append(body["listing"]["id"])
    return ids


async def test_join_carries_the_newest_listings_and_rest_pages_the_others(
    server_factory, connect
) -> None:
    server = await server_factory(join_listings_limit=3)
    async with Api(server.url) as api:
        room = await make_room(server, api, connect)
        ids = await make_listings(room, 7)
        viewer = await room.client(None)
        assert [item["id"] for item in viewer.join_ack["listings"]] == ids[-3:]
        assert viewer.join_ack["listings_more"] is True

        path = f"/api/streams/{room.stream_id}/listings"
        seen, after, pages = [], None, 0
        while True:
            query = f"?limit=3{f'&after={after}' if after else ''}"
            status, body = await api.request("GET", path + query)
            assert status == 200, body
            seen += [item["id"] for item in body["listings"]]
            pages += 1
            if not body["more"]:
                break
            after = body["listings"][-1]["id"]
        assert seen == ids and pages == 3
        status, body = await api.request("GET", path)
        assert [item["id"] for item in body["listings"]] == ids and body["more"] is False

        for query, field in [
            ("?limit=0", "limit"),
            ("?limit=201", "limit"),
            ("?limit=ten", "limit"),
            ("?after=nope", "after"),
        ]:
            status, body = await api.request("GET", path + query)
            assert_error(status, body, 400, "invalid_field")
            assert body["error"]["message"].startswith(f"{field}:")


async def test_a_small_stream_says_there_is_no_more(server_factory, connect) -> None:
    server = await server_factory()
    async with Api(server.url) as api:
        room = await make_room(server, api, connect)
        ids = await make_listings(room, 2)
        viewer = await room.client("bob")
        assert [item["id"] for item in viewer.join_ack["listings"]] == ids
        assert viewer.join_ack["listings_more"] is False
