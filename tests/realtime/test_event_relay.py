"""The cross-process event relay: domain events encoded from their types, carried by a
real Redis from one relay to another, and replayed whole."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from server.domain.events import (
    ChatHidden,
    CohostChanged,
    Event,
    ListingPresented,
    ListingUpdated,
    StreamStatusChanged,
)
from server.domain.streams import Stream
from server.event_bus import InProcessEventBus
from server.stores.event_codec import decode_event, encode_event
from server.stores.relay import RELAYED, RedisEventRelay
from tests.helpers.cluster import Redis
from tests.helpers.listings import a_listing

AT = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=UTC)
STREAM = Stream(
    id="s1",
    title="Vintage denim",
    description="",
    kind="video",
    status="ended",
    host="hostess",
    cohost=None,
    scheduled_at=None,
    started_at=AT,
    ended_at=AT,
    created_at=AT,
    viewers=12,
    pinned={"text": "50% off", "by": "hostess", "at": "2026-12-01T10:30:15Z"},
    blocked_words=("spam", "scam"),
    reminders=3,
)
LISTING = a_listing(
    title="Jacket",
    description="size M",
    price_cents=4500,
    currency="EUR",
    quantity=3,
    remaining=1,
    compare_at_cents=6000,
    created_at=AT,
    format="auction",
    per_buyer_limit=2,
    sudden_death=True,
    flash_ends_at_ms=1_800_000_000_000,
)
EVENTS: list[Event] = [
    CohostChanged("s1", "guest", "earlier"),
    CohostChanged("s1", None, None),
    StreamStatusChanged(STREAM),
    ListingPresented(LISTING),
    ListingUpdated(LISTING),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_relayed_events_survive_json(event: Event) -> None:
    wire = json.loads(json.dumps(encode_event(event)))
    assert decode_event(wire, RELAYED) == event


def test_only_accepted_types_are_decoded() -> None:
    wire = json.loads(json.dumps(encode_event(ChatHidden("s1", "m1"))))
    assert decode_event(wire, (ChatHidden,)) == ChatHidden("s1", "m1")
    with pytest.raises(ValueError, match="ChatHidden"):
        decode_event(wire, RELAYED)


async def test_two_relays_replay_each_others_events_only(redis_server: Redis) -> None:
    """Relay one's local events reach relay two's remote bus whole, in order; neither
    replays its own, and events nobody relays stay home."""
    relays = [RedisEventRelay(redis_server.url), RedisEventRelay(redis_server.url)]
    local = [InProcessEventBus(), InProcessEventBus()]
    remote = [InProcessEventBus(), InProcessEventBus()]
    received: list[list[Event]] = [[], []]
    done = asyncio.Event()

    def recorder(n: int):
        async def record(event: Event) -> None:
            received[n].append(event)
            if len(received[1]) == len(EVENTS):
                done.set()

        return record

    for n in (0, 1):
        remote[n].subscribe(recorder(n))
        await relays[n].start(local[n], remote[n])
    try:
        await local[0].publish(ChatHidden("s1", "m1"))  # Socket.IO carries these itself
        for event in EVENTS:
            await local[0].publish(event)
        await asyncio.wait_for(done.wait(), 10)
    finally:
        for relay in relays:
            await relay.stop()
    assert received == [[], EVENTS]
