"""UTC timestamps and their protocol form (`2026-11-25T15:00:00Z`)."""

from __future__ import annotations

from datetime import UTC, datetime


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
