"""Live-only discount codes: what a code takes off an order, and the host's code book.

A code is counted where it is used: inside the buying transaction (see
server/stores/sql_selling.py), so no concurrency spends it more than `max_uses` times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from server.domain.errors import conflict, invalid_field
from server.domain.streams import StreamService, require_role
from server.domain.times import utc_now
from server.domain.validation import int_field, money_field

CODE_RE = re.compile(r"^[A-Z0-9]{4,20}$")
USES_MAX = 1_000_000
LISTING_IDS_MAX = 100


@dataclass(frozen=True)
class DiscountCode:
    """One code of one stream; `uses` counts the orders that used it."""

    stream_id: str
    code: str
    percent_off: int | None
    amount_off_cents: int | None
    max_uses: int
    per_buyer: int
    listing_ids: tuple[str, ...] | None
    uses: int
    created_at: datetime

    def discount_cents(self, subtotal_cents: int) -> int:
        """What the code takes off an order's subtotal (never more than the subtotal)."""
        if self.percent_off is not None:
            return subtotal_cents * self.percent_off // 100
        return min(self.amount_off_cents or 0, subtotal_cents)

    def applies_to(self, listing_id: str) -> bool:
        return self.listing_ids is None or listing_id in self.listing_ids

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `code` object (plus `uses_left`)."""
        return {
            "stream_id": self.stream_id,
            "code": self.code,
            "percent_off": self.percent_off,
            "amount_off_cents": self.amount_off_cents,
            "max_uses": self.max_uses,
            "per_buyer": self.per_buyer,
            "listing_ids": None if self.listing_ids is None else list(self.listing_ids),
            "uses": self.uses,
            "uses_left": self.max_uses - self.uses,
        }


def code_text(field: str, value: object) -> str:
    """A code as stored: 4-20 of [A-Z0-9], given in any case."""
    if not isinstance(value, str) or not CODE_RE.fullmatch(value.strip().upper()):
        raise invalid_field(field, "must be 4-20 letters or digits")
    return value.strip().upper()


class CodeStore(Protocol):
    async def insert_code(self, code: DiscountCode) -> bool:
        """False when the stream already has this code."""
        ...

    async def stream_codes(self, stream_id: str) -> list[DiscountCode]: ...

    async def stream_listing_ids(self, stream_id: str) -> set[str]: ...


def _listing_ids(value: object, known: set[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= LISTING_IDS_MAX
        or not all(isinstance(item, str) and item in known for item in value)
    ):
        raise invalid_field("listing_ids", "must be a non-empty list of this stream's listing ids")
    return tuple(dict.fromkeys(value))


class CodeService:
    """The host creates codes and reads how many were used."""

    def __init__(self, store: CodeStore, streams: StreamService) -> None:
        self._store = store
        self._streams = streams

    async def create(self, stream_id: str, user: str, body: dict[str, Any]) -> DiscountCode:
        """A new code (host only); 400 `invalid_field`, 409 `code_taken`."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        percent, amount = body.get("percent_off"), body.get("amount_off_cents")
        if (percent is None) == (amount is None):
            raise invalid_field("percent_off", "give exactly one of percent_off, amount_off_cents")
        code = DiscountCode(
            stream_id=stream.id,
            code=code_text("code", body.get("code")),
            percent_off=None
            if percent is None
            else int_field("percent_off", percent, low=1, high=90),
            amount_off_cents=None
            if amount is None
            else money_field("amount_off_cents", amount, low=1),
            max_uses=int_field("max_uses", body.get("max_uses"), low=1, high=USES_MAX),
            per_buyer=int_field("per_buyer", body.get("per_buyer", 1), low=1, high=USES_MAX),
            listing_ids=_listing_ids(
                body.get("listing_ids"), await self._store.stream_listing_ids(stream.id)
            ),
            uses=0,
            created_at=utc_now(),
        )
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        if not await self._store.insert_code(code):
            raise conflict("code_taken", f"this stream already has the code {code.code}")
        return code

    async def codes(self, stream_id: str, user: str) -> list[DiscountCode]:
        """The stream's codes with their uses, oldest first (host only)."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return await self._store.stream_codes(stream_id)
