"""Listings built in memory for tests and benches that need one (not through the API)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from server.domain.commerce import Listing

BASE = Listing(
    id="l1",
    stream_id="s1",
    title="Item",
    description="",
    price_cents=2500,
    currency="USD",
    quantity=10,
    remaining=10,
    consignor=None,
    status="active",
    compare_at_cents=None,
    created_at=datetime(2026, 12, 1, tzinfo=UTC),
)


def a_listing(**fields: Any) -> Listing:
    """An active buy-now listing of 10 at $25 in stream "s1", with `fields` changed."""
    return replace(BASE, **fields)
