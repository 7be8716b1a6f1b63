"""UTC timestamps and their protocol form (`2026-11-25T15:00:00Z`)."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_time(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a `Z`, to the second, as the protocol shows it."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse ISO 8601; a missing offset means UTC. Raises ValueError when unparsable or
    when the UTC moment falls outside years 1-9999 (e.g. 9999-12-31T23:59:59-23:59)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


def now_ms() -> int:
    """The server's clock in epoch milliseconds: the only judge of v2 deadlines."""
    return time.time_ns() // 1_000_000


def from_ms(moment_ms: int) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, UTC)


def ends_at(moment_ms: int) -> dict[str, Any]:
    """A v2 deadline as both protocol fields: `ends_at` (ISO) and `ends_at_ms`."""
    return {"ends_at": _deadline_text(moment_ms), "ends_at_ms": moment_ms}


@functools.lru_cache(maxsize=1024)
def _deadline_text(moment_ms: int) -> str:
    # Every bid's ack and every `auction:updated` carry the auction's deadline, which
    # only a late bid moves: formatting it each time was ~2 % of a bid's server CPU.
    return format_time(from_ms(moment_ms))


def epoch_ms(moment: datetime | None) -> int | None:
    """Server epoch milliseconds (the v2 `*_ms` fields clients count down against)."""
    return None if moment is None else round(moment.timestamp() * 1000)
