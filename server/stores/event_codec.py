"""Domain events as JSON and back, read off their dataclass fields (one codec for all).

An event travels as `{"type": <class name>, "fields": {...}}`. Fields are encoded by
their value (dataclasses as objects, datetimes as ISO 8601, tuples as lists) and decoded
by their declared type, so a field added to an event or to what it carries (a Stream,
a Listing) travels without touching this module.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any

from server.domain import events
from server.domain.auctions import Auction
from server.domain.chat import ChatMessage
from server.domain.cohost import Invite
from server.domain.commerce import Listing, Order
from server.domain.giveaways import Giveaway
from server.domain.streams import Stream

# The names events.py imports only for type checking, for resolving its annotations.
_EVENT_FIELD_TYPES = {
    cls.__name__: cls for cls in (Auction, ChatMessage, Invite, Listing, Order, Giveaway, Stream)
}


def encode_event(event: events.Event) -> dict[str, Any]:
    """`event` as JSON-safe data."""
    return {"type": type(event).__name__, "fields": _encode(event)}


def decode_event(data: dict[str, Any], accepted: tuple[type, ...]) -> events.Event:
    """The event `data` encodes; ValueError unless its type is one of `accepted`."""
    by_name = {cls.__name__: cls for cls in accepted}
    cls = by_name.get(data.get("type", ""))
    if cls is None:
        raise ValueError(f"not an accepted event type: {data.get('type')!r}")
    event: events.Event = _decode(data["fields"], cls)
    return event


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    return value  # str, int, bool, None, and JSON-shaped dicts (a pinned message)


@cache
def _field_types(cls: type) -> dict[str, Any]:
    module = vars(events) if cls.__module__ == events.__name__ else None
    return typing.get_type_hints(cls, globalns=module, localns=_EVENT_FIELD_TYPES)


def _decode(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _field_types(kind)
        return kind(**{name: _decode(item, hints[name]) for name, item in value.items()})
    if kind is datetime:
        return datetime.fromisoformat(value)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        # X | None: decoded as X; a union of plain JSON types is taken as it comes.
        return _decode(value, options[0]) if len(options) == 1 else value
    if origin is tuple:
        inner = typing.get_args(kind)[0]
        return tuple(_decode(item, inner) for item in value)
    return value
