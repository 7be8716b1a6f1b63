"""The official Socket.IO v4 JavaScript client (npm socket.io-client, run by node)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.realtime.conftest import Room

SCRIPT = Path(__file__).parent / "js" / "invite_scene.mjs"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


async def test_the_invite_scene_with_the_js_client(room: Room) -> None:
    args = {
        "url": room.url,
        "stream_id": room.stream_id,
        "tokens": {"host": room.tokens["hostess"], "bob": room.tokens["bob"]},
        "bob": "bob",
    }
    node = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        json.dumps(args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            stdout, stderr = await node.communicate()
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, (stdout, stderr)
    out = json.loads(stdout)

    assert out["joins"] == [
        {"ok": True, "role": "host", "user": "hostess", "status": "live"},
        {"ok": True, "role": "viewer", "user": "bob", "status": "live"},
        {"ok": True, "role": "viewer", "user": None, "status": "live"},
    ]
    assert out["chat"] == {"ok": True, "mentions": ["bob"], "text": "come up @bob!"}
    assert out["mention"] is True
    assert out["invite"]["ok"] is True and out["invite"]["invite"]["username"] == "bob"
    assert out["invited"]["invite_id"] == out["invite"]["invite"]["id"]
    assert out["invited"]["host"] == "hostess" and out["invited"]["stream_id"] == room.stream_id
    assert out["accept"]["ok"] is True
    assert out["changed"] == ["bob", "bob", "bob"]
    assert out["cohost_invites"]["error"]["code"] == "forbidden"
    assert out["anon_chat"]["error"]["code"] == "unauthorized"
    assert out["malformed"]["error"]["code"] == "invalid_payload"
    assert out["remove"] == {"ok": True, "removed": "bob"}
    assert out["removed"] == {"stream_id": room.stream_id}
    assert out["emptied"] is None
    assert out["forged"]["data"]["code"] == "invalid_token"
    assert out["transport"] == "websocket"  # upgraded from long-polling
    assert (await room.stream())["cohost"] is None
