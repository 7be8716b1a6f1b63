"""The buyers' line of one listing: one sale at a time, everyone refused together when
nothing is left, and a buyer who gives up never stalls the others."""

from __future__ import annotations

import asyncio

import pytest

from server.domain.buyers_line import BuyersLine


class SoldOut(Exception):
    pass


class Stock:
    """What the line's `admit` checks: the stock this process has seen."""

    def __init__(self, left: int) -> None:
        self.left = left

    def admit(self) -> None:
        if self.left < 1:
            raise SoldOut


async def test_one_turn_at_a_time_and_the_rest_refused_together() -> None:
    line, stock = BuyersLine(), Stock(2)
    holding = 0
    most_holding = 0
    sales: list[int] = []
    refused = 0
    release = asyncio.Event()

    async def buyer(n: int) -> None:
        nonlocal holding, most_holding, refused
        try:
            await line.turn(stock.admit)
        except SoldOut:
            refused += 1
            return
        holding += 1
        most_holding = max(most_holding, holding)
        await release.wait()  # the sale's transaction
        stock.left -= 1
        sales.append(n)
        holding -= 1
        line.done(sold_out=stock.left == 0)

    tasks = [asyncio.create_task(buyer(n)) for n in range(50)]
    await asyncio.sleep(0)  # every buyer reaches the line (one pass of the loop)
    release.set()
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    assert most_holding == 1
    assert sales == [0, 1]  # in the order they came
    assert refused == 48


async def test_a_cancelled_buyer_does_not_stall_the_line() -> None:
    line, stock = BuyersLine(), Stock(5)
    await line.turn(stock.admit)  # the turn is taken
    gives_up = asyncio.create_task(line.turn(stock.admit))
    waits = asyncio.create_task(line.turn(stock.admit))
    await asyncio.sleep(0)
    gives_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gives_up
    line.done(sold_out=False)
    async with asyncio.timeout(5):
        await waits  # got the turn although the one ahead of it left
    line.done(sold_out=False)


async def test_a_refused_buyer_passes_the_turn_on() -> None:
    line = BuyersLine()
    await line.turn(lambda: None)
    wants_two = Stock(1)  # its own check: 1 left, it wants 2

    def too_many() -> None:
        if wants_two.left < 2:
            raise SoldOut

    first = asyncio.create_task(line.turn(too_many))
    second = asyncio.create_task(line.turn(lambda: None))
    await asyncio.sleep(0)
    wants_two.left = 1
    line.done(sold_out=False)  # one left: only the front of the line wakes
    async with asyncio.timeout(5):
        with pytest.raises(SoldOut):
            await first
        await second  # woken by the refused one
