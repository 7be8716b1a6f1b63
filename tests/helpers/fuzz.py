"""Hypothesis fuzzing of a live server: REST bodies, Socket.IO payloads, mutated SDP.

The server runs on the caller's event loop; Hypothesis drives examples from a worker
thread and hands each request to that loop. Every answer must be a protocol answer:
never a 500, never a dropped Socket.IO connection. Used by tests/limits/test_fuzz.py
(few examples) and bench/fuzz.py (many).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.api import Api
from tests.helpers.peers import new_peer
from tests.helpers.sio import Client

T = TypeVar("T")

# Characters user text must survive: controls, bidi overrides, separators, surrogates.
NASTY = ["\x00", "\x07", "\n", "\r", "\t", "\u202e", "\u2066", "\u2028", "\ud800", "\ufeff", "💸"]
FIELDS = [
    "title", "description", "kind", "scheduled_at", "price_cents", "quantity", "currency",
    "compare_at_cents", "consignor", "discount_code", "username", "password", "text",
    "stream_id", "invite_id", "accept", "message_id", "prefix", "state", "old_password",
    "new_password",
]  # fmt: skip
# Each client event with the fields its payload may hold.
EVENTS: dict[str, tuple[str, ...]] = {
    "join": ("stream_id",), "leave": (), "chat:send": ("text",),
    "chat:hide": ("message_id",), "user:suggest": ("prefix",), "user:mute": ("username",),
    "user:unmute": ("username",), "cohost:invite": ("username",),
    "cohost:respond": ("invite_id", "accept"), "cohost:remove": (), "cohost:leave": (),
    "cohost:media": ("state",), "cohost:cancel": ("invite_id",),
    "auction:bid": ("listing_id", "amount_cents", "max_cents"),
    "giveaway:enter": ("giveaway_id",),
}  # fmt: skip

text = st.text(st.characters() | st.sampled_from(NASTY), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "USD"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@dataclass
class Target:
    """A live show to fuzz: its stream, a listing, the host's and a viewer's tokens."""

    url: str
    stream_id: str
    listing_id: str
    tokens: dict[str, str]
    offer: str  # a genuine WHEP offer to mutate
    auction_listing_id: str = "none"  # a listing with a running auction
    giveaway_id: str = "none"  # an open giveaway

    def ids(self) -> list[str]:
        """Real ids, so that generated payloads also reach past "not found"."""
        return [self.stream_id, self.listing_id, self.auction_listing_id, self.giveaway_id]

    def read_routes(self) -> list[str]:
        """Every GET route of the API and pages, on the fuzzed show's ids."""
        stream = f"/api/streams/{self.stream_id}"
        return [
            "/api/streams", stream, f"{stream}/after-sale", f"{stream}/checklist",
            f"{stream}/codes", f"{stream}/destinations", f"{stream}/labels.csv",
            f"{stream}/labels.pdf", f"{stream}/listings", f"{stream}/moderators",
            f"{stream}/orders", f"{stream}/outputs", f"{stream}/poster.png",
            f"{stream}/qr-incidents", f"{stream}/recording", f"{stream}/reminder",
            f"{stream}/share-link", f"{stream}/sharers", f"{stream}/shipments",
            f"{stream}/stats", f"{stream}/stats.csv", f"/api/giveaways/{self.giveaway_id}",
            f"/api/listings/{self.auction_listing_id}/auction", "/api/me/ledger",
            "/api/me/orders", "/api/me/profile", "/api/me/referrals", "/api/me/streams",
            "/healthz", f"/watch/{self.stream_id}", f"/studio/{self.stream_id}",
            f"/replay/{self.stream_id}", f"/giveaways/{self.giveaway_id}",
            f"/shows/{self.stream_id}/orders", f"/hls/{self.stream_id}/index.m3u8",
        ]  # fmt: skip

    def write_routes(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every route that changes something, with the fields its body may hold, but
        those that end the show or the host's session (`end`, `raid`, `logout`): the
        fuzzed show must stay live."""
        stream = f"/api/streams/{self.stream_id}"
        listing = f"/api/listings/{self.listing_id}"
        auction = f"/api/listings/{self.auction_listing_id}"
        new_listing = (
            "title", "price_cents", "quantity", "format", "sku", "compare_at_cents", "consignor",
            "per_buyer_limit", "daily_cap", "increment_cents", "auction_seconds", "sudden_death",
        )  # fmt: skip
        buy = ("quantity", "discount_code")
        bid = ("amount_cents", "max_cents")
        account = ("username", "password")
        return [
            ("POST", "/api/streams", ("title", "description", "kind", "scheduled_at", "record")),
            ("POST", f"{stream}/listings", new_listing), ("POST", f"{listing}/buy", buy),
            ("POST", f"{listing}/present", ()), ("POST", "/api/auth/login", account),
            ("POST", "/api/auth/register", account),
            ("POST", "/api/auth/password", ("old_password", "new_password")),
            ("POST", f"{stream}/start", ()), ("POST", f"{stream}/rehearse", ()),
            ("PATCH", stream, ("title", "description", "kind", "scheduled_at", "record")),
            ("PATCH", f"{stream}/chat", ("slow_mode_seconds", "blocked_words")),
            ("PATCH", f"{stream}/layout", ("layout",)),
            ("PATCH", f"{stream}/outputs", ("record", "layout")),
            ("PATCH", listing, ("quantity",)), ("PATCH", auction, ("quantity",)),
            ("POST", f"{listing}/quote", buy),
            ("POST", f"{listing}/flash", ("price_cents", "seconds")),
            ("POST", f"{auction}/auction/start", ()), ("POST", f"{auction}/bids", bid),
            ("POST", f"{stream}/codes", (
                "code", "percent_off", "amount_off_cents", "max_uses", "per_buyer", "listing_ids",
            )),
            ("POST", f"{stream}/giveaways", ("title", "seconds", "eligibility")),
            ("POST", f"{stream}/labels", ()), ("POST", f"{stream}/labels/send", ("consignor",)),
            ("POST", f"{stream}/payout", ()),
            ("POST", f"{stream}/share", ("username", "amount_cents")),
            ("POST", f"{stream}/pin", ("text",)), ("DELETE", f"{stream}/pin", ()),
            ("POST", f"{stream}/reminder", ()), ("DELETE", f"{stream}/reminder", ()),
            ("POST", f"{stream}/destinations", ("url",)),
            ("DELETE", f"{stream}/destinations/x", ()),
            ("POST", f"{stream}/moderators/bob", ()), ("DELETE", f"{stream}/moderators/bob", ()),
            ("POST", "/api/shipments/x/split", ("order_ids",)),
            ("PUT", "/api/me/address", (
                "name", "line1", "line2", "city", "region", "postal_code", "country",
            )),
            ("PUT", "/api/me/email", ("email",)), ("PUT", f"{stream}/cover", ()),
        ]  # fmt: skip


@dataclass
class Report:
    """What the server answered, by kind of input."""

    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    examples: int = 0


async def genuine_offer() -> str:
    pc = new_peer()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def mutate(sdp: str, operations: list[tuple[str, int, str]]) -> str:
    """Apply line-level mutations: delete, duplicate, garble, enlarge numbers, truncate."""
    lines = sdp.split("\r\n")
    for operation, position, noise in operations:
        index = position % max(1, len(lines))
        if operation == "delete" and lines:
            del lines[index]
        elif operation == "duplicate" and lines:
            lines.insert(index, lines[index])
        elif operation == "garble" and lines:
            line = lines[index]
            cut = position % (len(line) + 1)
            lines[index] = line[:cut] + noise + line[cut + len(noise) :]
        elif operation == "number" and lines:
            lines[index] = "".join(
                str(10**40 + position) if ch.isdigit() else ch for ch in lines[index]
            )
        elif operation == "insert":
            lines.insert(index, noise)
        elif operation == "truncate":
            return "\r\n".join(lines)[: position % (len(sdp) + 1)]
    return "\r\n".join(lines)


sdp_operations = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "garble", "number", "insert", "truncate"]),
        st.integers(min_value=0, max_value=10**6),
        text,
    ),
    min_size=1,
    max_size=5,
)


class Fuzzer:
    """Runs Hypothesis in a thread against `target`, sending through `loop`."""

    def __init__(
        self, target: Target, loop: asyncio.AbstractEventLoop, api: Api, derandomize: bool
    ) -> None:
        self.derandomize = derandomize
        self.target = target
        self.loop = loop
        self.api = api
        self.report = Report()
        self.clients: list[Client] = []
        self.values = json_values | st.sampled_from(target.ids())
        # Values a field may well hold: an id, a user, a small amount, a flag, a code.
        self.plausible = (
            st.sampled_from([*target.ids(), "bob", "hostess", "SAVE10", "rtmp://127.0.0.1:9/x"])
            | st.sampled_from(["a\x00b", "a\ud800b"])  # no database text holds these
            | st.integers(min_value=-2, max_value=100_000)
            | st.booleans()
        )
        self.objects = st.dictionaries(st.sampled_from(FIELDS) | text, self.values, max_size=6)

    def shaped(self, fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
        """Objects with some of `fields`, each any value: past the "which field" checks
        to the value checks and the domain rules."""
        value = self.plausible | self.values
        return st.fixed_dictionaries({}, optional={name: value for name in fields})

    def _on_loop(self, make: Callable[[], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(_call(make), self.loop).result(timeout=60)

    def _check(self, what: str, ok: bool, detail: str) -> None:
        self.report.examples += 1
        if not ok:
            self.report.failures.append(f"{what}: {detail}")
        assert ok, f"{what}: {detail}"

    def _check_http(self, kind: str, what: str, status: int, answer: Any) -> None:
        """An HTTP answer: a success, or a protocol error shape; never a 500."""
        self.report.statuses[f"{kind} {status}"] += 1
        shaped = status < 400 or (
            isinstance(answer, dict)
            and set(answer) == {"error"}
            and isinstance(answer["error"].get("code"), str)
        )
        self._check(what, status < 500 and shaped, f"{status} {answer!r:.200}")

    def _settings(self, examples: int) -> settings:
        return settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=self.derandomize,
            suppress_health_check=list(HealthCheck),
        )

    # -- REST ----------------------------------------------------------------------------

    def rest(self, examples: int) -> None:
        t = self.target
        tokens = st.sampled_from([None, "host", "host", "viewer", "viewer", "garbage"])

        @self._settings(examples)
        @given(
            route=st.sampled_from(t.write_routes()),
            who=tokens,
            body=st.none() | self.objects | self.values | st.binary(max_size=120),
            data=st.data(),
        )
        def one(
            route: tuple[str, str, tuple[str, ...]], who: str | None, body: Any, data: Any
        ) -> None:
            method, path, fields = route
            if body is None:  # half the time, a body of the route's own fields
                body = data.draw(self.shaped(fields))
            token = "x.y" if who == "garbage" else t.tokens.get(who or "")
            sent = body if isinstance(body, bytes) else json.dumps(body).encode()
            status, answer = self._on_loop(
                lambda: self.api.request(
                    method, path, token=token, data=sent,
                    headers={"Content-Type": "application/json"},
                )
            )  # fmt: skip
            self._check_http("rest", f"{method} {path} {sent[:80]!r}", status, answer)

        one()

    def reads(self, examples: int) -> None:
        """GET routes with odd query strings: a page or a protocol error, never a 500."""
        t = self.target
        keys = st.sampled_from(["after", "consignor", "limit", "status", "verbose", "grant", "ref"])

        @self._settings(examples)
        @given(
            path=st.sampled_from(t.read_routes()),
            who=st.sampled_from([None, "host", "viewer", "garbage"]),
            query=st.dictionaries(keys | text, text | st.sampled_from(["-1", "1e9", "1"])),
        )
        def one(path: str, who: str | None, query: dict[str, str]) -> None:
            token = "x.y" if who == "garbage" else t.tokens.get(who or "")
            params = {
                key.encode("utf-8", "surrogatepass").decode("utf-8", "replace"): value.encode(
                    "utf-8", "surrogatepass"
                ).decode("utf-8", "replace")
                for key, value in query.items()
            }
            status, answer = self._on_loop(
                lambda: self.api.request("GET", path, token=token, params=params)
            )
            self._check_http("get", f"GET {path} {params!r:.80}", status, answer)

        one()

    async def list_queries(self) -> None:
        """GET pages with odd query strings."""
        path = f"/api/streams/{self.target.stream_id}/listings"
        for query in ["?limit=-1", "?limit=1e9", "?after=%00", "?after=" + "a" * 5000, "?limit="]:
            status, answer = await self.api.request("GET", path + query)
            self._check(f"GET {query[:40]}", status in (200, 400), f"{status} {answer!r}")

    # -- Socket.IO -----------------------------------------------------------------------

    async def connect_clients(self) -> None:
        for who in (None, "viewer", "host"):
            client = Client(self.target.url, self.target.tokens.get(who or ""), who or "anon")
            await client.connect()
            await client.ok("join", {"stream_id": self.target.stream_id})
            self.clients.append(client)

    def realtime(self, examples: int) -> None:
        @self._settings(examples)
        @given(
            index=st.integers(min_value=0, max_value=2),
            event=st.sampled_from(sorted(EVENTS)) | text.filter(lambda name: name.isprintable()),
            args=st.none() | st.lists(self.objects | self.values, max_size=3),
            data=st.data(),
        )
        def one(index: int, event: str, args: list[Any] | None, data: Any) -> None:
            client = self.clients[index]
            if args is None:  # half the time, a payload of the event's own fields
                args = [data.draw(self.shaped(EVENTS.get(event, ())))]
            if event in ("disconnect", "connect", "connect_error", "message") or not event:
                event = "chat:send"  # names Socket.IO reserves on the client side
            ack = self._on_loop(lambda: client.call(event, *args, timeout=20))
            well_formed = isinstance(ack, dict) and isinstance(ack.get("ok"), bool)
            if well_formed and ack["ok"] is False:
                error = ack.get("error") or {}
                well_formed = (
                    isinstance(error.get("code"), str) and error["code"] != "internal_error"
                )
            self.report.statuses[f"sio {ack.get('ok') if isinstance(ack, dict) else '?'}"] += 1
            self._check(f"{event} {args!r:.80}", well_formed and client.sio.connected, repr(ack))

        one()

    async def clients_alive(self) -> None:
        for client in self.clients:
            assert client.sio.connected, f"{client.name} was disconnected"
            await client.barrier()

    # -- SDP -----------------------------------------------------------------------------

    def sdp(self, examples: int) -> None:
        path = f"/whep/{self.target.stream_id}"

        @self._settings(examples)
        @given(operations=sdp_operations)
        def one(operations: list[tuple[str, int, str]]) -> None:
            offer = mutate(self.target.offer, operations)

            async def post() -> tuple[int, Any, str | None]:
                async with self.api.session.post(
                    self.api.base_url + path,
                    data=offer.encode("utf-8", "surrogatepass"),
                    headers={"Content-Type": "application/sdp"},
                ) as response:
                    location = response.headers.get("Location")
                    if response.content_type == "application/json":
                        return response.status, await response.json(), location
                    return response.status, await response.text(), location

            status, answer, location = self._on_loop(post)
            self.report.statuses[f"sdp {status}"] += 1
            if location:  # do not let accepted offers pile up
                self._on_loop(lambda: self.api.request("DELETE", location))
            error_ok = status < 400 or (isinstance(answer, dict) and "error" in answer)
            self._check(
                f"sdp {operations!r:.120}", status < 500 and error_ok, f"{status} {answer!r:.200}"
            )

        one()


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


async def run_all(
    target: Target, api: Api, rest: int, realtime: int, sdp: int, derandomize: bool = True
) -> tuple[Report, float]:
    """Every fuzzer in turn (Hypothesis in a worker thread); the report and seconds taken.
    Derandomized (the same examples every run) unless asked otherwise, as bench/fuzz.py
    does to explore further."""
    fuzzer = Fuzzer(target, asyncio.get_running_loop(), api, derandomize)
    started = time.perf_counter()
    await fuzzer.connect_clients()
    try:
        await asyncio.to_thread(fuzzer.rest, rest)
        await asyncio.to_thread(fuzzer.reads, rest)
        await fuzzer.list_queries()
        await asyncio.to_thread(fuzzer.realtime, realtime)
        await fuzzer.clients_alive()
        await asyncio.to_thread(fuzzer.sdp, sdp)
    finally:
        for client in fuzzer.clients:
            await client.close()
    return fuzzer.report, time.perf_counter() - started
