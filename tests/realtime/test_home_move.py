"""A relayed viewer follows its stream to the new home, in the same WebRTC session.

The host publishes on process 0 (the home); a viewer plays on process 1, relayed.
Process 0 dies (SIGKILL); once its home entry expires the host republishes, to
process 2 or to process 1 itself, which becomes the home. The viewer's peer
connection on process 1 shows the new home's picture again without any new WHEP
request: process 1 follows the home (another process's frames over Redis, or its
own room), keeping the viewer's senders and their RTP timeline; meanwhile it holds
the last picture. Leaving then frees the relayed room.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.browser import chromium, frames_advance, wait_for_halves
from tests.helpers.cluster import Cluster, Redis, start_cluster
from tests.helpers.peers import BLUE, RED, HttpSignal, Publisher, Viewer
from tests.realtime.test_cluster import People, live_stream
from tests.realtime.test_invite_media import showing
from tests.realtime.test_metrics import scrape_at, value
from tests.realtime.test_scene import kill, publish, publish_when_homed

pytestmark = pytest.mark.slow

# The new home's picture reaches the relayed viewer this soon after the republish:
# a home lookup every 2 s, a keyframe, and a loaded 2-core machine's slack.
FOLLOW_TIMEOUT = 20


class CountingSignal(HttpSignal):
    """WHEP signalling that counts its POSTs (the viewer must never need another)."""

    posts = 0

    async def __call__(self, offer: str) -> str:
        self.posts += 1
        return await super().__call__(offer)


@pytest.fixture
def cluster(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("home-move") / "data"
    # Homes of a killed process expire within 2 s.
    running = start_cluster(3, redis_server.url, data_dir, live_ttl_seconds="2")
    yield running
    running.stop()  # the killed process is already gone


@dataclass
class Show:
    """A live stream whose host (an aiortc camera of red) made process 0 its home."""

    cluster: Cluster
    stream_id: str
    host_token: str
    peers: list[Publisher | Viewer] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.cluster.nodes]

    async def republish(self, to: int) -> None:
        """The host's studio republishes (blue) to process `to`, once the home is free."""
        await publish_when_homed(
            self.urls[to], self.stream_id, self.host_token, BLUE, 660, self.peers
        )


@pytest.fixture
async def show(cluster: Cluster) -> AsyncIterator[Show]:
    stream_id, _, host_token = await live_stream(cluster, People(cluster))
    show = Show(cluster, stream_id, host_token)
    try:
        await publish(show.urls[0], stream_id, host_token, RED, 440, show.peers)
        yield show
    finally:
        for peer in show.peers:
            await peer.close()


@pytest.mark.parametrize("new_home", [2, 1], ids=["to-another-process", "to-the-relay"])
async def test_a_relayed_viewer_follows_the_stream_to_its_new_home(
    cluster: Cluster, show: Show, new_home: int
) -> None:
    viewer = Viewer()
    show.peers.append(viewer)
    whep = CountingSignal(show.urls[1], f"/whep/{show.stream_id}")
    await viewer.start(whep)
    assert whep.redirected is False  # played on process 1, relayed from process 0
    await viewer.wait_for(showing(viewer, "red", "red"), timeout=30)

    kill(cluster, 0)
    # No home sends: process 1 repeats the last keyframe every second, so media
    # keeps arriving (a watch page takes a silent session for a dead one and plays
    # again). More frames than were on their way when the home died.
    held = viewer.frames + 6
    await viewer.wait_for(lambda: viewer.frames >= held, timeout=15)
    await show.republish(to=new_home)
    republished = time.monotonic()
    await viewer.wait_for(showing(viewer, "blue", "blue"), timeout=FOLLOW_TIMEOUT)
    print(f"new home's picture after {time.monotonic() - republished:.1f} s")

    # Decoded frames keep coming in the same session, which never signalled again.
    frames = viewer.frames
    await viewer.wait_for(lambda: viewer.frames >= frames + 30, timeout=10)
    assert viewer.pc.connectionState == "connected"
    assert whep.posts == 1

    # Leaving frees the relayed room (and its tap of process 1's own room); the
    # room of a home stays while the host publishes there.
    assert await whep.delete() == 200
    async with aiohttp.ClientSession() as http:
        rooms = await scrape_at(http, show.urls[1])
    assert value(rooms, "costream_media_rooms", kind="relayed") == 0
    assert value(rooms, "costream_media_rooms", kind="home") == (new_home == 1)


@pytest.mark.browser
async def test_the_watch_page_plays_on_through_a_home_move(
    cluster: Cluster, show: Show, tmp_path: Path
) -> None:
    async with chromium(show.urls[1], tmp_path / "viewer") as person:
        plays: list[str] = []
        person.context.on(
            "request",
            lambda request: (
                plays.append(request.url)
                if request.method == "POST" and "/whep/" in request.url
                else None
            ),
        )
        watch = await person.open(f"/watch/{show.stream_id}")
        await wait_for_halves(watch, "#player", "red", "red", timeout=30)

        kill(cluster, 0)
        # Longer than the page's stall check (~4 s without video bytes: play again).
        await frames_advance(watch, "#player", count=8, timeout=20)
        await show.republish(to=2)
        await wait_for_halves(watch, "#player", "blue", "blue", timeout=FOLLOW_TIMEOUT)
        await frames_advance(watch, "#player")
        # The page never played again: its one session followed the home.
        assert plays == [f"{show.urls[1]}/whep/{show.stream_id}"]
        assert not person.errors
