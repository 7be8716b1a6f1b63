"""A refusal judged on the stock this process has seen (CommerceService._with_stock)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from server.domain.commerce import CommerceService, Listing
from tests.helpers.listings import a_listing

READ = a_listing(title="Drop")


def test_the_losers_of_one_read_share_its_copy_with_the_stock_seen() -> None:
    service = SimpleNamespace(_stock_views={})

    def with_stock(listing: Listing, left: int) -> Listing:
        return CommerceService._with_stock(service, listing, left)  # type: ignore[arg-type]

    assert with_stock(READ, 10) is READ  # nothing to change
    short = with_stock(READ, 0)
    assert short.remaining == 0 and replace(short, remaining=10) == READ
    assert with_stock(READ, 0) is short  # the next loser of the same read
    assert with_stock(READ, 1).remaining == 1  # another stock: another copy
    reread = replace(READ)  # a later read, equal but not the same object
    assert with_stock(reread, 0).remaining == 0
    assert with_stock(reread, 0) is with_stock(reread, 0) is not short
