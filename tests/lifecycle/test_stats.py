"""Analytics recorded as the show runs; the stats and the CSV match what happened."""

from __future__ import annotations

import csv
import io

from tests.conftest import BOTH_DATABASES
from tests.helpers.sio import Connect
from tests.lifecycle.conftest import Users

pytestmark = BOTH_DATABASES


async def test_stats_match_the_show(users: Users, connect: Connect) -> None:
    stream = await users.show(title="Counted")
    sid = stream["id"]
    for name in ("bob", "carol"):
        await users.ok("POST", f"/api/streams/{sid}/reminder", name)
    before = await users.ok("GET", f"/api/streams/{sid}/stats", "hostess")
    assert before["stats"]["reminders"] == 2 and before["stats"]["peak_viewers"] == 0

    host = await connect(users.server.url, users.tokens["hostess"], "hostess")
    await host.ok("join", {"stream_id": sid})
    bob = await connect(users.server.url, users.tokens["bob"], "bob")
    await bob.ok("join", {"stream_id": sid})  # waiting before the start: counted from it
    await users.api.start(users.tokens["hostess"], sid)
    carol = await connect(users.server.url, users.tokens["carol"], "carol")
    await carol.ok("join", {"stream_id": sid})
    anon = await connect(users.server.url, None, "anon")
    await anon.ok("join", {"stream_id": sid})
    dave = await connect(users.server.url, users.tokens["dave"], "dave")
    await dave.ok("join", {"stream_id": sid})
    await host.next("viewers", lambda data: data["count"] == 5, timeout=10)
    await carol.close()
    await host.next("viewers", lambda data: data["count"] == 4, timeout=10)

    await bob.ok("chat:send", {"text": "hi"})
    await bob.ok("chat:send", {"text": "love it"})
    await host.ok("chat:send", {"text": "welcome!"})
    status, created = await users.call(
        "POST",
        f"/api/streams/{sid}/listings",
        "hostess",
        json={"title": "Socks", "price_cents": 1000, "quantity": 5},
    )
    assert status == 201
    buy = f"/api/listings/{created['listing']['id']}/buy"
    assert (await users.call("POST", buy, "bob", json={"quantity": 2}))[0] == 201
    assert (await users.call("POST", buy, "dave"))[0] == 201
    await users.api.end(users.tokens["hostess"], sid)

    await users.fails("GET", f"/api/streams/{sid}/stats", "bob", 403, "forbidden")
    stats = (await users.ok("GET", f"/api/streams/{sid}/stats", "hostess"))["stats"]
    shown = max(data["count"] for data in host.seen("viewers"))
    assert stats["peak_viewers"] == shown == 5
    assert stats["unique_viewers"] == 4  # bob, carol, dave and the anonymous one
    assert stats["chat_messages"] == 3
    assert (stats["orders"], stats["units"], stats["gmv_cents"], stats["buyers"]) == (2, 3, 3000, 2)
    assert stats["conversion"] == round(2 / 3, 4)  # buyers / signed-in viewers (bob, carol, dave)
    assert (stats["reminders"], stats["reminded_attended"]) == (2, 2)
    assert stats["duration_s"] > 0 and stats["avg_watch_s"] > 0
    assert stats["avg_watch_s"] <= stats["duration_s"]
    assert max(count for _, count in stats["viewers_series"]) == 5
    assert all(isinstance(ts, int) for ts, _ in stats["viewers_series"])

    status, text = await users.call("GET", f"/api/streams/{sid}/stats.csv", "hostess")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(stats["viewers_series"]) >= 1
    assert sum(int(row["orders"]) for row in rows) == 2
    assert sum(int(row["gmv_cents"]) for row in rows) == 3000
    assert sum(int(row["chat_messages"]) for row in rows) == 3
    assert max(int(row["viewers"]) for row in rows) == 5
