"""Streams over real HTTP and real SQLite: lifecycle, roles, validation, the cohost seat."""

from __future__ import annotations

import asyncio

import pytest

from server.domain.errors import ApiError
from server.domain.events import CohostChanged, Event, StreamStatusChanged
from server.keys import EVENTS, STREAMS
from tests.conftest import BOTH_DATABASES
from tests.helpers.api import Api
from tests.helpers.server import RunningServer
from tests.server.test_accounts import assert_error

pytestmark = BOTH_DATABASES

STREAM_FIELDS = {"id", "title", "description", "kind", "status", "host", "cohost", "viewers"} | {
    "scheduled_at",
    "started_at",
    "ended_at",
    "sharer_commission_percent",  # sharers (protocol-sharers.md)
    # v2: the show lifecycle (docs/protocol-lifecycle.md)
    "cover_url",
    "reminders",
    "pinned",
    "restarted_at",
    "scheduled_at_ms",
    "started_at_ms",
    "ended_at_ms",
    "restarted_at_ms",
    "slow_mode_seconds",
    "raided_to",
}


def recorded_events(server: RunningServer) -> list[Event]:
    """Every domain event published from now on, in order."""
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    server.app[EVENTS].subscribe(record)
    return seen


async def test_create_returns_protocol_shape(api: Api) -> None:
    token, _ = await api.register("host1")
    status, body = await api.request(
        "POST",
        "/api/streams",
        token=token,
        json={
            "title": "  Sneaker drop  ",
            "description": "Limited pairs",
            "kind": "audio",
            "scheduled_at": "2026-11-25T15:00:00+01:00",
        },
    )
    assert status == 201
    stream = body["stream"]
    assert set(stream) == STREAM_FIELDS
    assert stream["title"] == "Sneaker drop"
    assert stream["description"] == "Limited pairs"
    assert stream["kind"] == "audio"
    assert stream["status"] == "scheduled"
    assert stream["host"] == "host1"
    assert stream["cohost"] is None
    assert stream["viewers"] == 0
    assert stream["scheduled_at"] == "2026-11-25T14:00:00Z"  # normalised to UTC
    assert stream["started_at"] is None and stream["ended_at"] is None
    assert await api.get_stream(stream["id"]) == stream


async def test_defaults(api: Api) -> None:
    token, _ = await api.register("host2")
    stream = await api.create_stream(token, "Minimal")
    assert (stream["kind"], stream["description"], stream["scheduled_at"]) == ("video", "", None)


async def test_ids_are_unique(api: Api) -> None:
    token, _ = await api.register("host3")
    ids = {(await api.create_stream(token))["id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 121},
        {"title": 5},
        {"title": "ok", "description": "d" * 2001},
        {"title": "ok", "description": 3},
        {"title": "ok", "kind": "screen"},
        {"title": "ok", "scheduled_at": "tomorrow"},
        {"title": "ok", "scheduled_at": 1234},
    ],
)
async def test_invalid_fields(api: Api, fields: dict[str, object]) -> None:
    token, _ = await api.register("host4")
    status, body = await api.request("POST", "/api/streams", token=token, json=fields)
    assert_error(status, body, 400, "invalid_field")


async def test_limits_are_inclusive(api: Api) -> None:
    token, _ = await api.register("host5")
    stream = await api.create_stream(token, "t" * 120, description="d" * 2000)
    assert len(stream["title"]) == 120 and len(stream["description"]) == 2000


async def test_create_needs_a_user(api: Api) -> None:
    status, body = await api.request("POST", "/api/streams", json={"title": "x"})
    assert_error(status, body, 401, "unauthorized")


async def test_start_and_end(api: Api, server: RunningServer) -> None:
    events = recorded_events(server)
    token, _ = await api.register("host6")
    stream = await api.create_stream(token)

    live = await api.start(token, stream["id"])
    assert live["status"] == "live"
    assert live["started_at"] is not None and live["ended_at"] is None
    assert await api.get_stream(stream["id"]) == live
    assert await api.start(token, stream["id"]) == live  # idempotent, no second event

    ended = await api.end(token, stream["id"])
    assert ended["status"] == "ended"
    assert ended["started_at"] == live["started_at"] and ended["ended_at"] is not None
    assert await api.end(token, stream["id"]) == ended  # idempotent too

    assert [(type(e), e.stream.status) for e in events] == [
        (StreamStatusChanged, "live"),
        (StreamStatusChanged, "ended"),
    ]


async def test_ended_stream_cannot_restart(api: Api) -> None:
    token, _ = await api.register("host7")
    stream = await api.create_stream(token)
    await api.end(token, stream["id"])  # a scheduled stream can be cancelled
    status, body = await api.request("POST", f"/api/streams/{stream['id']}/start", token=token)
    assert_error(status, body, 409, "stream_ended")
    assert (await api.get_stream(stream["id"]))["status"] == "ended"


@pytest.mark.parametrize("action", ["start", "end"])
async def test_only_the_host_starts_or_ends(api: Api, action: str) -> None:
    host, _ = await api.register("host8")
    other, _ = await api.register("other8")
    stream = await api.create_stream(host)
    if action == "end":
        stream = await api.start(host, stream["id"])

    status, body = await api.request("POST", f"/api/streams/{stream['id']}/{action}", token=other)
    assert_error(status, body, 403, "forbidden")
    status, body = await api.request("POST", f"/api/streams/{stream['id']}/{action}")
    assert_error(status, body, 401, "unauthorized")
    assert await api.get_stream(stream["id"]) == stream  # nothing changed


async def test_host_matches_case_insensitively(api: Api) -> None:
    await api.register("Host9")
    token, _ = await api.login("host9")
    stream = await api.create_stream(token)
    assert stream["host"] == "Host9"
    assert (await api.start(token, stream["id"]))["status"] == "live"


@pytest.mark.parametrize("suffix", ["", "/start", "/end"])
async def test_unknown_stream_is_404(api: Api, suffix: str) -> None:
    token, _ = await api.register("host10")
    method = "GET" if not suffix else "POST"
    status, body = await api.request(method, f"/api/streams/nope{suffix}", token=token)
    assert_error(status, body, 404, "stream_not_found")


async def test_streams_survive_a_restart(server_factory, settings_factory) -> None:
    settings = settings_factory()
    first = await server_factory(settings)
    async with Api(first.url) as api:
        token, _ = await api.register("host11")
        stream = await api.start(token, (await api.create_stream(token))["id"])
    await first.stop()
    second = await server_factory(settings)
    async with Api(second.url) as api:
        assert await api.get_stream(stream["id"]) == stream
        assert (await api.end(token, stream["id"]))["status"] == "ended"


# -- the cohost seat (domain API used by the invite flow and the media tests) ------------


async def test_seat_is_taken_once(api: Api, server: RunningServer) -> None:
    streams = server.app[STREAMS]
    events = recorded_events(server)
    host, _ = await api.register("host12")
    stream_id = (await api.create_stream(host))["id"]

    seated = await streams.seat_cohost(stream_id, "guest")
    assert seated.cohost == "guest"
    assert (await api.get_stream(stream_id))["cohost"] == "guest"
    assert streams.role_of(seated, "guest") == "cohost"
    assert streams.role_of(seated, "HOST12") == "host"
    assert streams.role_of(seated, None) == "viewer"

    with pytest.raises(ApiError) as taken:
        await streams.seat_cohost(stream_id, "rival")
    assert (taken.value.status, taken.value.code) == (409, "cohost_seat_taken")
    assert (await streams.seat_cohost(stream_id, "guest")).cohost == "guest"  # no-op
    assert events == [CohostChanged(stream_id, "guest", None)]


async def test_concurrent_seating_has_one_winner(api: Api, server: RunningServer) -> None:
    streams = server.app[STREAMS]
    host, _ = await api.register("host13")
    stream_id = (await api.create_stream(host))["id"]
    results = await asyncio.gather(
        *(streams.seat_cohost(stream_id, f"guest{i}") for i in range(10)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert {(type(e), getattr(e, "code", None)) for e in losers} == {
        (ApiError, "cohost_seat_taken")
    }
    assert (await api.get_stream(stream_id))["cohost"] == winners[0].cohost


async def test_host_cannot_be_cohost(api: Api, server: RunningServer) -> None:
    host, _ = await api.register("host14")
    stream_id = (await api.create_stream(host))["id"]
    with pytest.raises(ApiError) as error:
        await server.app[STREAMS].seat_cohost(stream_id, "host14")
    assert error.value.status == 400


async def test_free_seat(api: Api, server: RunningServer) -> None:
    streams = server.app[STREAMS]
    host, _ = await api.register("host15")
    stream_id = (await api.create_stream(host))["id"]
    await streams.seat_cohost(stream_id, "guest")
    events = recorded_events(server)

    assert await streams.free_seat(stream_id, expected="someone_else") is None
    assert (await api.get_stream(stream_id))["cohost"] == "guest"
    assert await streams.free_seat(stream_id, expected="GUEST") == "guest"
    assert (await api.get_stream(stream_id))["cohost"] is None
    assert await streams.free_seat(stream_id) is None  # already free
    assert events == [CohostChanged(stream_id, None, "guest")]

    # A declined/removed cohost can be seated again, and another one after them.
    await streams.seat_cohost(stream_id, "guest")
    assert await streams.free_seat(stream_id) == "guest"
    assert (await streams.seat_cohost(stream_id, "next")).cohost == "next"


async def test_ending_frees_the_seat_and_closes_it(api: Api, server: RunningServer) -> None:
    streams = server.app[STREAMS]
    host, _ = await api.register("host16")
    stream_id = (await api.start(host, (await api.create_stream(host))["id"]))["id"]
    await streams.seat_cohost(stream_id, "guest")
    events = recorded_events(server)

    ended = await api.end(host, stream_id)
    assert ended["cohost"] is None
    assert events[0] == CohostChanged(stream_id, None, "guest")
    assert isinstance(events[1], StreamStatusChanged) and events[1].stream.status == "ended"
    with pytest.raises(ApiError) as error:
        await streams.seat_cohost(stream_id, "guest")
    assert (error.value.status, error.value.code) == (409, "stream_ended")


async def test_unknown_stream_seat_is_404(server: RunningServer) -> None:
    with pytest.raises(ApiError) as error:
        await server.app[STREAMS].free_seat("nope")
    assert error.value.code == "stream_not_found"


async def test_viewer_count_is_injectable(api: Api, server: RunningServer) -> None:
    token, _ = await api.register("host17")
    stream = await api.create_stream(token)
    server.app[STREAMS].viewer_count = lambda stream_id: 42 if stream_id == stream["id"] else 0
    assert (await api.get_stream(stream["id"]))["viewers"] == 42
