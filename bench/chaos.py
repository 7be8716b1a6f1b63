"""Chaos: the host, a cohost and eight buyers act at random, all at once, on one live
show for a while (buys with and without codes, bids, giveaways, flash sales, presents,
restocks, cohost invites, ends and restarts); then the show's books are checked.

    .venv/bin/python bench/chaos.py --seconds 20 --seed 1
    .venv/bin/python bench/chaos.py --database-url postgresql://... --redis-url redis://... \
        --servers 2   # the cast spread over two servers (processes' apps) on one Redis

Prints the answers by call and code, what broke a rule (must be nothing): stock that
does not add up, a buyer over a listing's per-buyer limit, a daily cap passed, a code
used beyond its quotas, a giveaway with other than one prize order per winner, a
negative total; and every 500 or `internal_error`. Found: an auction lot sold twice.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.config import Settings  # noqa: E402
from tests.helpers.api import Api  # noqa: E402
from tests.helpers.server import add_user, start_server  # noqa: E402
from tests.helpers.sio import Client  # noqa: E402

BUYERS = [f"buyer{i}" for i in range(8)]
PER_BUYER_LIMIT, DAILY_CAP, CODE_USES = 2, 2, 3


class Show:
    """One live show under chaos: its users, listings, and what every call answered."""

    def __init__(self, apis: list[Api], rng: random.Random, deadline: float) -> None:
        self.api = apis[0]  # the host's, and the books'
        # Each of the cast talks to one server (REST and Socket.IO), in turn.
        self.api_of = {name: apis[i % len(apis)] for i, name in enumerate(["host", *BUYERS])}
        self.rng = rng
        self.deadline = deadline
        self.tokens: dict[str, str] = {}
        self.clients: dict[str, Client] = {}
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self.listings: dict[str, str] = {}  # role -> id
        self.giveaways: list[str] = []
        self.stream_id = ""
        self.invite: str | None = None

    async def rest(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        api = self.api_of[who]
        status, answer = await api.request(method, path, token=self.tokens[who], json=body)
        code = answer["error"]["code"] if status >= 400 and isinstance(answer, dict) else ""
        self.answers[f"{method} {path.rsplit('/', 1)[-1][:12]:12s} {status} {code}"] += 1
        if status >= 500:
            self.failures.append(f"{method} {path} {body!r}: {status} {answer!r}")
        return status, answer

    async def event(self, who: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        ack = await self.clients[who].call(name, payload, timeout=20)
        code = "" if ack.get("ok") else ack["error"]["code"]
        self.answers[f"sio {name} {code}"] += 1
        if code == "internal_error":
            self.failures.append(f"{name} {payload!r}: {ack!r}")
        return ack

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def pause(self, longest: float) -> None:
        await asyncio.sleep(self.rng.random() * longest)  # pacing, not synchronisation

    # -- the cast ------------------------------------------------------------------------

    async def buyer(self, name: str) -> None:
        rng, listings = self.rng, self.listings
        while self.running():
            roll = rng.random()
            if roll < 0.35:
                body: dict[str, Any] = {"quantity": rng.choice([1, 1, 2])}
                if rng.random() < 0.3:
                    body["discount_code"] = rng.choice(["SAVE10", "save10", "NOPE1"])
                listing = listings[rng.choice(["limited", "capped", "plenty"])]
                await self.rest("POST", f"/api/listings/{listing}/buy", name, body)
            elif roll < 0.6:
                bid: dict[str, Any] = {
                    "listing_id": listings["lot"],
                    "amount_cents": rng.choice([100, 150, 200, 400, 1000]),
                }
                if rng.random() < 0.2:
                    bid["max_cents"] = 2000
                await self.event(name, "auction:bid", bid)
            elif roll < 0.75:
                giveaway = rng.choice(self.giveaways) if self.giveaways else "none"
                await self.event(name, "giveaway:enter", {"giveaway_id": giveaway})
            elif roll < 0.85:
                await self.event(name, "chat:send", {"text": f"hi @{rng.choice(BUYERS)}"})
            elif roll < 0.9 and name == "buyer0" and self.invite is not None:
                await self.event(
                    name, "cohost:respond", {"invite_id": self.invite, "accept": rng.random() < 0.7}
                )
            else:
                await self.rest(
                    "POST", f"/api/listings/{listings['plenty']}/quote", name, {"quantity": 1}
                )
            await self.pause(0.02)

    async def host(self) -> None:
        rng, listings, stream = self.rng, self.listings, f"/api/streams/{self.stream_id}"
        while self.running():
            roll = rng.random()
            if roll < 0.12:
                await self.rest("POST", f"/api/listings/{listings['lot']}/auction/start", "host")
            elif roll < 0.24:
                listing = listings[rng.choice(list(listings))]
                await self.rest("POST", f"/api/listings/{listing}/present", "host")
            elif roll < 0.32:
                listing = listings[rng.choice(["limited", "plenty"])]
                body = {"price_cents": rng.choice([100, 200, 900]), "seconds": 5}
                await self.rest("POST", f"/api/listings/{listing}/flash", "host", body)
            elif roll < 0.4:
                body = {
                    "title": "Prize",
                    "seconds": 10,
                    "eligibility": rng.choice(["everyone", "buyers"]),
                }
                status, answer = await self.rest("POST", f"{stream}/giveaways", "host", body)
                if status == 201:
                    self.giveaways.append(answer["giveaway"]["id"])
            elif roll < 0.48:
                body = {"quantity": rng.choice([10, 30, 50, 60])}
                await self.rest("PATCH", f"/api/listings/{listings['plenty']}", "host", body)
            elif roll < 0.52:
                await self.rest("POST", f"{stream}/end", "host")
                await self.pause(0.2)
                await self.rest("POST", f"{stream}/start", "host")
            elif roll < 0.6:
                ack = await self.event("host", "cohost:invite", {"username": "buyer0"})
                if ack.get("ok"):
                    self.invite = ack["invite"]["id"]
            elif roll < 0.64:
                await self.event("host", "cohost:remove", {})
            else:
                await self.rest("GET", f"{stream}/orders", "host")
            await self.pause(0.05)

    # -- the books -----------------------------------------------------------------------

    async def broken_rules(self) -> list[str]:
        """What the show's orders and listings say against the selling rules."""
        _, body = await self.api.request(
            "GET", f"/api/streams/{self.stream_id}/orders", token=self.tokens["host"]
        )
        orders = body["orders"]
        _, body = await self.api.request(
            "GET", f"/api/streams/{self.stream_id}/listings", params={"limit": "100"}
        )
        listings = {listing["id"]: listing for listing in body["listings"]}
        sold: Counter[str] = Counter()
        bought: Counter[tuple[str, str]] = Counter()
        prizes: Counter[str] = Counter()
        broken = []
        for order in orders:
            if order.get("giveaway_id"):
                prizes[order["giveaway_id"]] += 1
                if order["total_cents"] != 0:
                    broken.append(f"a prize that costs: {order}")
                continue
            sold[order["listing_id"]] += order["quantity"]
            bought[(order["listing_id"], order["buyer"])] += order["quantity"]
            if order["total_cents"] < 0:
                broken.append(f"a negative total: {order}")
        for listing in listings.values():
            if sold[listing["id"]] + listing["remaining"] != listing["quantity"]:
                broken.append(
                    f"stock of {listing['title']}: {sold[listing['id']]} sold + "
                    f"{listing['remaining']} left != {listing['quantity']}"
                )
        for (listing_id, buyer), quantity in bought.items():
            if listing_id == self.listings["limited"] and quantity > PER_BUYER_LIMIT:
                broken.append(f"{buyer} bought {quantity} of a limit of {PER_BUYER_LIMIT}")
        if sold[self.listings["capped"]] > DAILY_CAP:
            broken.append(f"{sold[self.listings['capped']]} sold today of a cap of {DAILY_CAP}")
        coded = [order["buyer"] for order in orders if order.get("discount_code")]
        if len(coded) > CODE_USES or len(set(coded)) != len(coded):
            broken.append(f"code used by {coded} (max {CODE_USES}, one each)")
        for giveaway_id in self.giveaways:
            _, body = await self.api.request("GET", f"/api/giveaways/{giveaway_id}")
            giveaway = body["giveaway"]
            expected = 1 if giveaway["status"] == "drawn" and giveaway["winner"] else 0
            if prizes[giveaway_id] != expected:
                broken.append(f"giveaway {giveaway_id}: {prizes[giveaway_id]} prize orders")
        self.answers["orders (books)"] = len(orders)
        return broken


async def set_up(show: Show, api: Api, server: Any) -> None:
    """Accounts, the live show, its listings and code, and everyone joined."""
    for name in ["host", *BUYERS]:
        show.tokens[name] = await add_user(server, name)
    stream = await api.create_stream(show.tokens["host"], title="Chaos")
    show.stream_id = stream["id"]
    await api.start(show.tokens["host"], show.stream_id)
    listings: dict[str, dict[str, Any]] = {
        "limited": {"title": "Limited", "price_cents": 1000, "quantity": 5},
        "capped": {"title": "Capped", "price_cents": 500, "quantity": 4},
        "lot": {"title": "Lot", "price_cents": 100, "format": "auction", "auction_seconds": 5},
        "plenty": {"title": "Plenty", "price_cents": 300, "quantity": 50},
    }
    listings["limited"]["per_buyer_limit"] = PER_BUYER_LIMIT
    listings["capped"]["daily_cap"] = DAILY_CAP
    for role, fields in listings.items():
        listing = await api.create_listing(show.tokens["host"], show.stream_id, **fields)
        show.listings[role] = listing["id"]
    code = {"code": "SAVE10", "percent_off": 10, "max_uses": CODE_USES, "per_buyer": 1}
    status, _ = await show.rest("POST", f"/api/streams/{show.stream_id}/codes", "host", code)
    assert status == 201
    for name in ["host", *BUYERS]:
        client = Client(show.api_of[name].base_url, show.tokens[name], name)
        await client.connect()
        await client.ok("join", {"stream_id": show.stream_id})
        show.clients[name] = client


async def settle(show: Show) -> None:
    """Wait (bounded) for what runs on timers to end: the auction, giveaways, flash
    prices; then make sure the show is live for the books."""
    stream = f"/api/streams/{show.stream_id}"
    async with asyncio.timeout(30):
        while True:
            _, running = await show.api.request(
                "GET", f"/api/listings/{show.listings['lot']}/auction"
            )
            giveaways = [
                (await show.api.request("GET", f"/api/giveaways/{g}"))[1]["giveaway"]["status"]
                for g in show.giveaways
            ]
            if running.get("auction", {}).get("status") != "running" and "open" not in giveaways:
                break
            await asyncio.sleep(0.5)  # polling the server's own timers, bounded above
    _, body = await show.api.request("GET", stream)
    if body["stream"]["status"] != "live":
        await show.rest("POST", f"{stream}/start", "host")


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            ice_host_addresses=("127.0.0.1",),
            database_url=args.database_url,
            redis_url=args.redis_url,
            min_present_seconds=1,
            auth_rate_limit=1_000_000,
            auth_user_rate_limit=1_000_000,
            max_sessions_per_address=10_000,
        )
        servers = [await start_server(settings) for _ in range(args.servers)]
        apis = [Api(server.url) for server in servers]
        try:
            show = Show(apis, random.Random(args.seed), 0)
            await set_up(show, apis[0], servers[0])
            show.deadline = time.monotonic() + args.seconds
            started = time.perf_counter()
            cast = [show.buyer(name) for name in BUYERS for _ in range(2)]
            await asyncio.gather(show.host(), *cast)
            acting = time.perf_counter() - started
            await settle(show)
            broken = await show.broken_rules()
            for client in show.clients.values():
                await client.close()
        finally:
            for api in apis:
                await api.close()
            for server in servers:
                await server.stop()
    calls = sum(count for key, count in show.answers.items() if key != "orders (books)")
    print(f"chaos: {calls} calls in {acting:.1f} s, seed {args.seed}")
    for key, count in sorted(show.answers.items()):
        print(f"  {count:6d}  {key}")
    print(f"500s and internal errors: {len(show.failures)}")
    for failure in show.failures[:20]:
        print(f"  {failure}")
    print(f"broken rules: {len(broken)}")
    for rule in broken:
        print(f"  {rule}")
    return 0 if not broken and not show.failures else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--redis-url", help="a Redis for realtime state (default: memory)")
    parser.add_argument("--servers", type=int, default=1, help="more than 1 needs both URLs")
    sys.exit(asyncio.run(main(parser.parse_args())))
