"""A live show on a real server, with helpers to publish and watch over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from media.outputs.sink import MuxSink
from server.keys import MEDIA, STREAMS
from tests.conftest import RunningServer
from tests.helpers.api import Api
from tests.helpers.peers import BLUE, RED, HttpSignal, Publisher, Viewer, looks


@dataclass
class Show:
    """A started stream hosted by `host`; peers opened here are closed at teardown."""

    server: RunningServer
    api: Api
    stream_id: str
    host_token: str
    peers: list[Publisher | Viewer] = field(default_factory=list)

    @property
    def room(self):
        return self.server.app[MEDIA].rooms[self.stream_id]

    async def publish(
        self, token: str, color: tuple[int, int, int], frequency: float
    ) -> tuple[Publisher, HttpSignal]:
        signal = HttpSignal(self.server.url, f"/whip/{self.stream_id}", token)
        publisher = Publisher(color, frequency)
        self.peers.append(publisher)
        return await publisher.start(signal), signal

    async def watch(self, token: str | None = None) -> Viewer:
        viewer = Viewer()
        self.peers.append(viewer)
        return await viewer.start(HttpSignal(self.server.url, f"/whep/{self.stream_id}", token))

    async def on_stage(self) -> tuple[Publisher, HttpSignal, Viewer]:
        """Host red (440 Hz) and seated cohost bob blue (880 Hz); a viewer sees red|blue."""
        await self.publish(self.host_token, RED, 440)
        bob, bob_signal = await self.on_stage_cohost()
        viewer = await self.watch()
        await viewer.wait_for(showing(viewer, "red", "blue"))
        return bob, bob_signal, viewer

    async def first_frame(self, seat: str, timeout: float = 15.0) -> float:
        """Wait until the room has a picture from `seat`; returns time.monotonic() then."""
        async with asyncio.timeout(timeout):
            while seat not in self.room.layout:
                await asyncio.sleep(0.02)
        return time.monotonic()

    async def on_stage_cohost(self) -> tuple[Publisher, HttpSignal]:
        """Seat cohost bob and publish blue (880 Hz) from him."""
        bob_token, _ = await self.api.register("bob")
        await self.seat("bob")
        return await self.publish(bob_token, BLUE, 880)

    async def record(self, with_cohost: bool = True) -> tuple[float, dict]:
        """Host red, then cohost blue for at least as long again, then the end.

        Needs a server that records; returns (the show's seconds, its recording).
        """
        started = time.monotonic()
        await self.publish(self.host_token, RED, 440)
        recorder = self.server.app[MEDIA].output(self.stream_id, "recording")
        assert recorder is not None
        if with_cohost:
            await self.on_stage_cohost()
            viewer = await self.watch()
            await viewer.wait_for(showing(viewer, "red", "blue"), timeout=20)
            # The show's length, not a synchronisation: red|blue must fill its middle.
            await asyncio.sleep(time.monotonic() - started + 1)
        else:
            async with asyncio.timeout(15):  # a second of media written
                while recorder.packets_written < 60:
                    await asyncio.sleep(0.05)
        assert recorder.status == "live"
        await self.api.end(self.host_token, self.stream_id)
        ended = time.monotonic()
        assert await asyncio.to_thread(recorder.join, 15)  # its thread finished the file
        status, recording = await self.api.request(
            "GET", f"/api/streams/{self.stream_id}/recording"
        )
        assert status == 200, recording
        return ended - started, recording

    async def switch_layout(self, layout: str) -> None:
        """The host switches the layout live (PATCH .../layout)."""
        status, body = await self.api.request(
            "PATCH",
            f"/api/streams/{self.stream_id}/layout",
            token=self.host_token,
            json={"layout": layout},
        )
        assert (status, body) == (200, {"layout": layout})

    async def seat(self, username: str) -> None:
        """Seat a cohost directly through the domain (the invite flow is Socket.IO's)."""
        await self.server.app[STREAMS].seat_cohost(self.stream_id, username)

    async def stream(self) -> dict:
        return await self.api.get_stream(self.stream_id)

    async def unseat(self) -> None:
        await self.server.app[STREAMS].free_seat(self.stream_id)


async def written(sink: MuxSink, parts: int, packets: int, timeout: float = 20.0) -> None:
    """Wait until `sink` has opened `parts` containers and written `packets` more packets."""
    target = sink.packets_written + packets
    async with asyncio.timeout(timeout):
        while sink.parts < parts or sink.packets_written < target:
            await asyncio.sleep(0.05)


def showing(viewer: Viewer, left: str, right: str):
    """A wait condition: the viewer's picture is `left` | `right` at the centres."""
    return lambda: (
        viewer.frame is not None
        and (looks(viewer.halves()[0], left) and looks(viewer.halves()[1], right))
    )


async def open_show(server: RunningServer, api: Api) -> Show:
    """A started stream "Sneaker drop" hosted by a new user `hostess`."""
    host_token, _ = await api.register("hostess")
    stream = await api.create_stream(host_token, title="Sneaker drop")
    await api.start(host_token, stream["id"])
    return Show(server, api, stream["id"], host_token)


@pytest.fixture
async def show(server: RunningServer, api: Api) -> AsyncIterator[Show]:
    live = await open_show(server, api)
    yield live
    for peer in live.peers:
        await peer.close()
