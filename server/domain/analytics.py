"""Show analytics recorded as the show runs (sessions, viewer counts, chat), and the
figures computed from those records and the orders: JSON stats and a per-minute CSV.

Sessions and counts are recorded in every status; the figures count what falls
inside the live window (start to end, or now), so people waiting before the
start are counted from the moment the show went live.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from server.domain.commerce import Order
from server.domain.events import ChatPosted, Event, EventBus, PresenceChanged, StreamStatusChanged
from server.domain.streams import Stream, StreamService, require_role
from server.domain.times import epoch_ms, utc_now

if TYPE_CHECKING:
    from server.stores.sql_lifecycle import LifecycleStore

log = logging.getLogger(__name__)

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Minute:
    """One row of the CSV."""

    start_ms: int
    viewers: int
    chat_messages: int
    orders: int
    units: int
    gmv_cents: int


def _now_ms() -> int:
    ms = epoch_ms(utc_now())
    assert ms is not None
    return ms


def _minute_index(ts_ms: int, start_ms: int) -> int:
    return max(0, (ts_ms - start_ms) // MINUTE_MS)


class AnalyticsService:
    """Follows the bus to record; answers the host's stats."""

    def __init__(
        self,
        store: LifecycleStore,
        streams: StreamService,
        viewer_count: Callable[[str], Awaitable[int]],
        orders: Callable[[str], Awaitable[list[Order]]],
    ) -> None:
        self._store = store
        self._streams = streams
        self._viewer_count = viewer_count
        self._orders = orders

    def follow(self, events: EventBus) -> None:
        events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        match event:
            case PresenceChanged(stream_id=stream_id, conn_id=conn_id) if conn_id is not None:
                now = _now_ms()
                if event.joined:
                    stream = await self._streams.get(stream_id)
                    role = StreamService.role_of(stream, event.username)
                    await self._store.session_joined(stream_id, conn_id, event.username, role, now)
                else:
                    await self._store.session_left(stream_id, conn_id, now)
                await self._store.viewer_sample(stream_id, now, await self._viewer_count(stream_id))
            case ChatPosted(message=message):
                ts = epoch_ms(message.ts)
                assert ts is not None
                await self._store.chat_counted(message.stream_id, message.user, ts)
            case StreamStatusChanged(stream=stream) if stream.status == "ended":
                ended = epoch_ms(stream.ended_at) or _now_ms()
                await self._store.close_sessions(stream.id, ended)

    # -- figures -------------------------------------------------------------------------

    async def stats(self, stream_id: str, user: str) -> tuple[dict[str, Any], list[Minute]]:
        """(the protocol's `stats`, the per-minute rows) for the host."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return await self._figures(stream)

    async def _figures(self, stream: Stream) -> tuple[dict[str, Any], list[Minute]]:
        now = _now_ms()
        start = epoch_ms(stream.started_at)
        end = epoch_ms(stream.ended_at) if stream.status == "ended" else now
        duration_ms = stream.live_ms
        if stream.status == "live":
            duration_ms += now - (epoch_ms(stream.restarted_at or stream.started_at) or now)
        orders = await self._orders(stream.id)
        figures: dict[str, Any] = {
            "stream_id": stream.id,
            "duration_s": round(duration_ms / 1000, 1),
            "reminders": stream.reminders,
        }
        if start is None or end is None:  # never live: nothing to count but sign-ups
            figures.update(
                peak_viewers=0,
                unique_viewers=0,
                avg_watch_s=0,
                chat_messages=0,
                orders=0,
                units=0,
                gmv_cents=0,
                buyers=0,
                conversion=0,
                reminded_attended=0,
                viewers_series=[],
                orders_series=[],
            )
            return figures, []

        minutes = [_minute_index(end, start) + 1]
        viewers = await self._viewer_figures(stream, start, end)
        chat = [ts for ts in await self._store.chat_times(stream.id) if start <= ts <= end]
        buyers = {order.buyer.casefold() for order in orders}
        signed_in = viewers["signed_in"]
        subscribers = await self._store.reminder_subscribers(stream.id)
        reminded = {name.casefold() for name, _ in subscribers}
        rows = [
            Minute(start + index * MINUTE_MS, count, 0, 0, 0, 0)
            for index, count in enumerate(self._per_minute(viewers["samples"], start, minutes[0]))
        ]
        for ts in chat:
            index = min(_minute_index(ts, start), len(rows) - 1)
            rows[index] = _add(rows[index], chat_messages=1)
        for order in orders:
            ts = epoch_ms(order.created_at) or start
            index = min(_minute_index(ts, start), len(rows) - 1)
            rows[index] = _add(rows[index], orders=1, units=order.quantity, gmv=order.total_cents)
        figures.update(
            peak_viewers=viewers["peak"],
            unique_viewers=viewers["unique"],
            avg_watch_s=viewers["avg_watch_s"],
            chat_messages=len(chat),
            orders=len(orders),
            units=sum(order.quantity for order in orders),
            gmv_cents=sum(order.total_cents for order in orders),
            buyers=len(buyers),
            conversion=round(len(buyers & signed_in) / len(signed_in), 4) if signed_in else 0,
            reminded_attended=len(reminded & signed_in),
            viewers_series=[[row.start_ms, row.viewers] for row in rows],
            orders_series=[[row.start_ms, row.orders] for row in rows],
        )
        return figures, rows

    async def _viewer_figures(self, stream: Stream, start: int, end: int) -> dict[str, Any]:
        watched: dict[str, int] = {}
        signed_in: set[str] = set()
        for username, conn_id, role, joined, left in await self._store.sessions(stream.id):
            if role != "viewer":
                continue  # the audience: not the host or cohost
            overlap = min(left if left is not None else end, end) - max(joined, start)
            if overlap < 0 or joined > end:
                continue
            who = username.casefold() if username else f"conn:{conn_id}"
            watched[who] = watched.get(who, 0) + overlap
            if username:
                signed_in.add(username.casefold())
        samples = await self._store.samples(stream.id)
        before = [count for ts, count in samples if ts < start]
        inside = [count for ts, count in samples if start <= ts <= end]
        shown = inside + before[-1:]
        return {
            "peak": max(shown, default=0),
            "unique": len(watched),
            "avg_watch_s": round(sum(watched.values()) / len(watched) / 1000, 1) if watched else 0,
            "signed_in": signed_in,
            "samples": samples,
        }

    @staticmethod
    def _per_minute(samples: list[tuple[int, int]], start: int, minutes: int) -> list[int]:
        """The highest count shown in each minute (the count carries over quiet minutes)."""
        current = 0
        for ts, count in samples:
            if ts < start:
                current = count
        out = []
        index = 0
        ordered = [(ts, count) for ts, count in samples if ts >= start]
        for minute in range(minutes):
            bound = start + (minute + 1) * MINUTE_MS
            peak = current
            while index < len(ordered) and ordered[index][0] < bound:
                current = ordered[index][1]
                peak = max(peak, current)
                index += 1
            out.append(peak)
        return out


def _add(row: Minute, *, chat_messages: int = 0, orders: int = 0, units: int = 0, gmv: int = 0):
    return Minute(
        row.start_ms,
        row.viewers,
        row.chat_messages + chat_messages,
        row.orders + orders,
        row.units + units,
        row.gmv_cents + gmv,
    )


def stats_csv(rows: list[Minute]) -> str:
    """One row per minute of the show."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["minute", "time_utc", "ts_ms", "viewers", "chat_messages", "orders", "units", "gmv_cents"]
    )
    for index, row in enumerate(rows):
        moment = datetime.fromtimestamp(row.start_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow(
            [
                index,
                moment,
                row.start_ms,
                row.viewers,
                row.chat_messages,
                row.orders,
                row.units,
                row.gmv_cents,
            ]
        )
    return out.getvalue()
