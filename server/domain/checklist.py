"""The pre-live double check (seed 004): small checks computed from real state.

Each check is a function of the show's facts returning (ok, detail); the detail
says what to fix when it is red. Add a check by appending to CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.domain.commerce import Listing
from server.domain.streams import Stream


@dataclass(frozen=True)
class Facts:
    """What the checks look at, gathered once per request."""

    stream: Stream
    listings: list[Listing]
    host_video: bool  # pictures arriving from the host's camera now
    host_audio: bool  # the host's microphone carried sound in the last seconds
    return_address: bool  # the host saved the address buyers send returns to
    codes: dict[str, int]  # the stream's discount codes: code -> uses left


Check = Callable[[Facts], tuple[bool, str]]


def host_video(facts: Facts) -> tuple[bool, str]:
    if facts.stream.kind == "audio":
        return True, "audio-only show: no camera needed"
    if facts.host_video:
        return True, "pictures are arriving from your camera"
    return False, "start your camera: no pictures are arriving"


def host_audio(facts: Facts) -> tuple[bool, str]:
    if facts.host_audio:
        return True, "your microphone is picking up sound"
    return False, "say something: no sound from your microphone (is it muted?)"


def listings_priced(facts: Facts) -> tuple[bool, str]:
    active = [listing for listing in facts.listings if listing.status == "active"]
    if not active:
        return False, "add the items you will sell, with price and stock"
    unpriced = [listing.title for listing in active if listing.price_cents <= 0]
    empty = [listing.title for listing in active if listing.remaining <= 0]
    if unpriced:
        return False, f"set a price for: {', '.join(unpriced)}"
    if empty:
        return False, f"add stock for: {', '.join(empty)}"
    return True, f"{len(active)} item(s) priced and in stock"


def compare_at_backed(facts: Facts) -> tuple[bool, str]:
    # Listings are refused `compare_at_unbacked` at creation without sales history;
    # here: a compare-at price must be above the selling price.
    claimed = [listing for listing in facts.listings if listing.compare_at_cents is not None]
    bad = [
        listing.title
        for listing in claimed
        if listing.compare_at_cents is not None and listing.compare_at_cents <= listing.price_cents
    ]
    if bad:
        return False, f"a compare-at price must be above the price: {', '.join(bad)}"
    if not claimed:
        return True, "no compare-at prices shown"
    return True, f"{len(claimed)} compare-at price(s) above the selling price"


def codes_ready(facts: Facts) -> tuple[bool, str]:
    if not facts.codes:
        return True, "no discount codes made for this show"
    spent = [code for code, left in facts.codes.items() if left <= 0]
    if spent:
        return False, f"used up, raise their limit or make new ones: {', '.join(spent)}"
    return True, f"{len(facts.codes)} code(s) ready"


def return_address(facts: Facts) -> tuple[bool, str]:
    if facts.return_address:
        return True, "your return address is saved"
    return False, "add your address in your profile: buyers send returns there"


CHECKS: list[tuple[str, Check]] = [
    ("host_video", host_video),
    ("host_audio", host_audio),
    ("listings_priced", listings_priced),
    ("compare_at_backed", compare_at_backed),
    ("codes_ready", codes_ready),
    ("return_address", return_address),
]


def run_checklist(facts: Facts) -> dict[str, Any]:
    """The protocol's checklist answer: `ready` when every check is green."""
    checks = []
    for check_id, check in CHECKS:
        ok, detail = check(facts)
        checks.append({"id": check_id, "ok": ok, "detail": detail})
    return {"ready": all(check["ok"] for check in checks), "checks": checks}
