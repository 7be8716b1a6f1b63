"""Outputs beyond WebRTC: which outputs a live stream has, its recordings, destinations.

The media engine runs the outputs; this service decides them from the
settings and the stream's own choices, and follows the stream's lifecycle.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import av

from media.engine import MediaEngine
from media.layout import DEFAULT_LAYOUT, LAYOUTS
from media.outputs import OutputPlan
from media.outputs.overlay import LowerThird
from server.domain.commerce import Listing
from server.domain.errors import ApiError, invalid_field, not_found
from server.domain.events import (
    Event,
    EventBus,
    ListingPresented,
    ListingUpdated,
    StreamStatusChanged,
)
from server.domain.streams import Stream, StreamService, require_role
from server.domain.times import format_time, utc_now
from server.domain.validation import SAFE_ID, text_field
from server.stores.sql_outputs import Destination, OutputsStore

DESTINATION_SCHEMES = ("rtmp://", "rtmps://")
DESTINATIONS_PER_STREAM = 5
URL_MAX = 500


def record_field(value: object) -> bool:
    if not isinstance(value, bool):
        raise invalid_field("record", "must be true or false")
    return value


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def price_text(cents: int, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def lower_third(listing: Listing) -> LowerThird:
    """The bar for the item on stage: its title and price (or that it sold out)."""
    price = (
        "Sold out"
        if listing.status == "sold_out"
        else price_text(listing.price_cents, listing.currency)
    )
    return LowerThird(listing.title, price)


def layout_field(value: object) -> str:
    if value not in LAYOUTS:
        raise invalid_field("layout", f"one of {', '.join(LAYOUTS)}")
    return str(value)


def _media_facts(path: Path) -> tuple[float, int, int]:
    """Seconds of media in a (possibly still growing) MP4, and its picture's width
    and height. Blocking: run off the loop."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if container.duration is not None:
            return container.duration / 1_000_000, width, height
        last = 0.0
        for packet in container.demux(stream):
            if packet.pts is not None:
                last = max(last, float(packet.pts * stream.time_base))
        return last, width, height


class OutputsService:
    """Decides and reports a stream's HLS, recording and simulcast outputs."""

    def __init__(
        self,
        store: OutputsStore,
        streams: StreamService,
        engine: MediaEngine,
        data_dir: Path,
        hls: bool,
        record: bool,
    ) -> None:
        self._store = store
        self._streams = streams
        self._engine = engine
        self._data_dir = data_dir
        self._hls = hls
        self._record = record
        self._on_stage: dict[str, str] = {}  # stream id -> the presented listing's id

    def follow(self, events: EventBus, remote: EventBus | None = None) -> None:
        """Outputs start when a stream goes live (the engine stops them at the end);
        the item on stage follows presenting (QR codes on screen: server.domain.qr_guard).

        `remote` carries lifecycle events made on other processes (the start may
        land on one process while the stream's media lives on another).
        """
        events.subscribe(self._on_event)
        if remote is not None:
            remote.subscribe(self._on_event)

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, StreamStatusChanged) and event.stream.status == "live":
            await self.refresh(event.stream.id)
        elif isinstance(event, StreamStatusChanged) and event.stream.status == "ended":
            self._on_stage.pop(event.stream.id, None)  # the engine dropped its choices
        elif isinstance(event, ListingPresented):
            self._on_stage[event.listing.stream_id] = event.listing.id
            self._engine.set_lower_third(event.listing.stream_id, lower_third(event.listing))
        elif isinstance(event, ListingUpdated):
            listing = event.listing
            if self._on_stage.get(listing.stream_id) == listing.id:
                self._engine.set_lower_third(listing.stream_id, lower_third(listing))

    async def qr_incidents(self, stream_id: str, user: str) -> list[dict[str, str]]:
        await self._hosted(stream_id, user)
        return await self._store.qr_incidents(stream_id)

    def hls_dir(self, stream_id: str) -> Path:
        return self._data_dir / "hls" / stream_id

    def recording_dir(self, stream_id: str) -> Path:
        return self._data_dir / "recordings" / stream_id

    async def plan(self, stream_id: str) -> OutputPlan:
        record, _layout = await self._store.settings(stream_id)
        recording = self._record if record is None else record
        destinations = await self._store.destinations(stream_id)
        return OutputPlan(
            hls_dir=self.hls_dir(stream_id) if self._hls else None,
            recording_dir=self.recording_dir(stream_id) if recording else None,
            destinations={d.id: d.url for d in destinations},
        )

    async def refresh(self, stream_id: str) -> None:
        """Apply the stream's current choices: its layout, and its outputs when live."""
        stream = await self._streams.get(stream_id)
        _record, layout = await self._store.settings(stream_id)
        self._engine.set_layout(stream_id, layout or DEFAULT_LAYOUT)
        if stream.status == "live":
            self._engine.set_outputs(stream_id, await self.plan(stream_id))

    async def _hosted(self, stream_id: str, user: str) -> Stream:
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return stream

    async def apply_fields(self, stream_id: str, user: str, body: dict[str, Any]) -> None:
        """`record` and `layout` of a stream create/PATCH body (host), if present.

        Both are checked before either applies: a refusal changes nothing. The
        stream PATCH (`PATCH /api/streams/{id}`) calls this for these fields.
        """
        record = record_field(body["record"]) if "record" in body else None
        layout = layout_field(body["layout"]) if "layout" in body else None
        if record is not None:
            await self.set_record(stream_id, user, record)
        if layout is not None:
            await self.set_layout(stream_id, user, layout)

    # -- layout ---------------------------------------------------------------------------

    async def set_layout(self, stream_id: str, user: str, value: object) -> str:
        """Switch the composite's layout (host), live or before; 400 for unknown modes."""
        layout = layout_field(value)
        await self._hosted(stream_id, user)
        await self._store.set_layout(stream_id, layout)
        await self.refresh(stream_id)
        return layout

    # -- recording -------------------------------------------------------------------

    async def set_record(self, stream_id: str, user: str, value: object) -> None:
        """Turn this stream's recording on or off (host); applies at once when live."""
        record = record_field(value)
        await self._hosted(stream_id, user)
        await self._store.set_record(stream_id, record)
        await self.refresh(stream_id)

    async def settings(self, stream_id: str, user: str) -> dict[str, Any]:
        """The stream's output settings as the host sees them."""
        await self._hosted(stream_id, user)
        record, layout = await self._store.settings(stream_id)
        return {
            "layout": layout or DEFAULT_LAYOUT,
            "record": self._record if record is None else record,
            "hls": self._hls,
            "hls_url": f"/hls/{stream_id}/index.m3u8" if self._hls else None,
        }

    def recording_files(self, stream_id: str) -> list[Path]:
        """The stream's MP4 files, oldest first (a part per media room of the show)."""
        if not SAFE_ID.match(stream_id):
            return []
        return sorted(self.recording_dir(stream_id).glob("*.mp4"))

    async def recording(self, stream_id: str) -> dict[str, Any]:
        """{"url", "duration_s"} of the latest recording, and every part in `parts`
        (a new part per media room, and per picture size: portrait and back)."""
        await self._streams.get(stream_id)
        files = [f for f in self.recording_files(stream_id) if f.stat().st_size > 0]
        if not files:
            raise not_found("this stream has no recording", "recording_not_found")
        loop = asyncio.get_running_loop()
        parts = []
        for path in files:
            try:
                duration, width, height = await loop.run_in_executor(None, _media_facts, path)
            except Exception:  # not playable yet (no first fragment)
                continue
            url = f"/recordings/{stream_id}/{path.name}"
            parts.append(
                {"url": url, "duration_s": round(duration, 3), "width": width, "height": height}
            )
        if not parts:
            raise not_found("the recording has no media yet", "recording_not_found")
        return {**parts[-1], "parts": parts}

    # -- simulcast ---------------------------------------------------------------------

    def _destination(self, destination: Destination) -> dict[str, Any]:
        sink = self._engine.output(destination.stream_id, f"rtmp:{destination.id}")
        plan = self._engine.output_plan(destination.stream_id)
        if sink is not None:
            status, error = sink.status, sink.error
        else:  # not running: the stream is not live, or no media room right now
            status, error = ("idle" if plan is None else "connecting"), None
        return {
            "id": destination.id,
            "url": destination.url,
            "status": status,
            "error": error,
            "created_at": destination.created_at,
        }

    async def destinations(self, stream_id: str, user: str) -> list[dict[str, Any]]:
        await self._hosted(stream_id, user)
        return [self._destination(d) for d in await self._store.destinations(stream_id)]

    async def add_destination(self, stream_id: str, user: str, url: object) -> dict[str, Any]:
        """Push the composite to an RTMP(S) ingest (host); starts at once when live."""
        await self._hosted(stream_id, user)
        text = text_field("url", url, min_len=1, max_len=URL_MAX).strip()
        if not text.lower().startswith(DESTINATION_SCHEMES) or len(text) <= len("rtmp://"):
            raise invalid_field("url", "must be an rtmp:// or rtmps:// URL")
        destination = Destination(
            secrets.token_urlsafe(9), stream_id, text, format_time(utc_now()) or ""
        )
        if not await self._store.add_destination(destination, DESTINATIONS_PER_STREAM):
            raise ApiError(
                409, "too_many_destinations", f"at most {DESTINATIONS_PER_STREAM} destinations"
            )
        await self.refresh(stream_id)
        return self._destination(destination)

    async def remove_destination(self, stream_id: str, user: str, dest_id: str) -> None:
        await self._hosted(stream_id, user)
        if not await self._store.remove_destination(stream_id, dest_id):
            raise not_found("no such destination", "destination_not_found")
        await self.refresh(stream_id)
