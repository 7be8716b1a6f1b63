"""Composition root: build the aiohttp application from Settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiohttp import web

import signaling.realtime
import signaling.whep
import signaling.whip
from media.engine import MediaEngine
from server import (
    http,
    http_after_sale,
    http_auth,
    http_commerce,
    http_lifecycle,
    http_outputs,
    http_selling,
    http_sharers,
    metrics,
    security,
)
from server.auction_routing import JudgeRouting
from server.auth import Argon2Passwords, HashingPool, TokenService
from server.backend import Backend, open_backend
from server.config import Settings, load_or_create_secret
from server.documents.labels import LabelDocuments
from server.domain.accounts import AccountService
from server.domain.analytics import AnalyticsService
from server.domain.auctions import AuctionService, judge_here, no_forwarding
from server.domain.chat import ChatService
from server.domain.clock import SellingClock
from server.domain.codes import CodeService
from server.domain.cohost import CohostService
from server.domain.commerce import CommerceService
from server.domain.events import CohostChanged, Event, EventBus, StreamStatusChanged
from server.domain.giveaways import GiveawayService
from server.domain.ledger import LedgerService
from server.domain.lifecycle import LifecycleService
from server.domain.moderation import ModerationService
from server.domain.outputs import OutputsService
from server.domain.presence import PresenceService
from server.domain.profile import ProfileService
from server.domain.qr_guard import QrGuard
from server.domain.reminders import ReminderService
from server.domain.sessions import SessionService
from server.domain.sharers import SharerService, commission_filler
from server.domain.shipping import ShippingService
from server.domain.stage import StageWatch
from server.domain.streams import StreamService
from server.errors import error_middleware
from server.event_bus import InProcessEventBus
from server.files import private_dir, private_umask
from server.keys import (
    ACCOUNTS,
    ANALYTICS,
    AUCTIONS,
    AUTH,
    CHAT,
    CODES,
    COHOST,
    COMMERCE,
    EVENTS,
    GIVEAWAYS,
    JUDGE_ROUTING,
    LEDGER,
    LIFECYCLE,
    LIVE,
    MEDIA,
    MEDIA_RELAY,
    MODERATION,
    OUTPUTS,
    PRESENCE,
    PROFILES,
    REALTIME,
    REMINDERS,
    SELLING_CLOCK,
    SESSIONS,
    SETTINGS,
    SHARERS,
    SHIPPING,
    STORE,
    STREAMS,
)
from server.lifecycle import DRAIN, Drain, disconnect_realtime
from server.logs import stream_context
from server.mail import SmtpMailer
from server.store import Database
from server.stores.sql_ledger import SqlLedgerStore
from server.stores.sql_lifecycle import LifecycleStore
from server.stores.sql_listings import SqlListingPages
from server.stores.sql_outputs import OutputsStore
from server.stores.sql_profile import SqlProfileStore
from server.stores.sql_selling import SellingStore
from server.stores.sql_sharers import SqlSharerStore
from server.stores.sql_shipping import SqlShippingStore
from server.stores.sql_tokens import SqlTokenStore
from signaling.broadcaster import Broadcaster
from signaling.home import StreamHomes, home_middleware
from signaling.relay import MediaRelay


def _follow_domain(events: EventBus, engine: MediaEngine) -> None:
    """Keep the media engine in step with the domain."""

    async def on_event(event: Event) -> None:
        # An ended stream tears down its peers; a freed seat drops that publisher's tile.
        if isinstance(event, StreamStatusChanged) and event.stream.status == "ended":
            await engine.close_stream(event.stream.id)
        elif isinstance(event, CohostChanged) and event.previous is not None:
            await engine.drop_seat(event.stream_id, "cohost")

    events.subscribe(on_event)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[STORE].open()
    yield
    await app[STORE].close()


def _media_ctx(stage: StageWatch) -> Callable[[web.Application], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await stage.close()
        await app[MEDIA].close()

    return ctx


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[MEDIA_RELAY].start()
    yield
    await app[MEDIA_RELAY].stop()


def _live_ctx(
    backend: Backend, broadcaster: Broadcaster, remote: EventBus
) -> Callable[[web.Application], AbstractAsyncContextManager[None]]:
    """Realtime state and the cross-process event relay up; down in reverse."""

    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        live = backend.live
        await live.open()
        await backend.bus.start(app[EVENTS], remote)
        yield
        await backend.bus.stop()
        await app[REMINDERS].close()
        await broadcaster.close()
        await app[COHOST].close()
        await app[PRESENCE].close()
        await live.close()

    return ctx


async def _clock_ctx(app: web.Application) -> AsyncIterator[None]:
    # Started once storage and presence are up (a draw asks who is present), stopped first.
    app[SELLING_CLOCK].start()
    yield
    await app[SELLING_CLOCK].close()


def _selling(
    app: web.Application,
    store: Database,
    presence: PresenceService,
    events: EventBus,
    routing: JudgeRouting | None,
) -> None:
    """Buy-now, flash sales, codes, auctions and giveaways, and the clock of their deadlines."""
    settings = app[SETTINGS]
    sales = SellingStore(store)
    commerce = CommerceService(
        store,
        sales,
        app[STREAMS],
        app[ACCOUNTS],
        events,
        settings.min_present_seconds,
        pages=SqlListingPages(store),
        auction_min_seconds=settings.auction_min_seconds,
    )
    # The clock runs the services' deadlines and they tell it of new ones: they share
    # this event (set: look again now) rather than each other.
    deadline_moved = asyncio.Event()
    auctions = AuctionService(
        sales,
        app[STREAMS],
        commerce,
        events,
        settings.auction_snipe_seconds,
        wake=deadline_moved.set,
        judge_elsewhere=judge_here if routing is None else routing.locate,
        forward=no_forwarding if routing is None else routing.forward,
    )
    giveaways = GiveawayService(
        sales,
        app[STREAMS],
        presence,
        events,
        wake=deadline_moved.set,
        min_seconds=settings.giveaway_min_seconds,
    )
    app[COMMERCE] = commerce
    app[CODES] = CodeService(sales, app[STREAMS])
    app[AUCTIONS] = auctions
    app[GIVEAWAYS] = giveaways
    app[SELLING_CLOCK] = SellingClock(
        sales.next_deadline_ms,
        [auctions.close_due, giveaways.draw_due, commerce.end_due_flashes],
        deadline_moved,
    )


def create_app(settings: Settings) -> web.Application:
    """The whole server: every AppKey is set here, before start-up freezes the app."""
    drain = Drain()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[error_middleware, drain.middleware, http_auth.revocation_middleware],
    )
    app[DRAIN] = drain
    # Everything written under the data dir (database, secret, media files) is private.
    private_umask()
    private_dir(settings.data_dir)
    secret = settings.secret_key or load_or_create_secret(settings.data_dir)

    backend = open_backend(settings)
    store, live = backend.db, backend.live
    events = InProcessEventBus()

    app[SETTINGS] = settings
    app[STORE] = store
    app[EVENTS] = events
    app[AUTH] = TokenService(secret, settings.token_ttl_seconds)
    hashing = HashingPool(settings.password_hash_concurrency)
    app[ACCOUNTS] = AccountService(store, Argon2Passwords(), hashing)
    app[SESSIONS] = SessionService(
        app[AUTH], SqlTokenStore(store), app[ACCOUNTS], events, settings.token_sync_seconds
    )
    # The live room: realtime state (memory, or Redis across processes) and Socket.IO.
    presence = PresenceService(live, store, events)
    sharer_store = SqlSharerStore(store)
    app[STREAMS] = StreamService(
        store,
        events,
        settings.restart_window_seconds,
        viewer_count=presence.count,
        fillers=[commission_filler(sharer_store)],
    )
    lifecycle_store = LifecycleStore(store)
    outputs_store = OutputsStore(store)
    # Media tells the stage when a seat's pictures start or stop arriving, and the QR
    # guard when a code shows on screen.
    stage = StageWatch(
        app[STREAMS], events, settings.cohost_grace_seconds, settings.host_grace_seconds
    )
    qr_guard = QrGuard(outputs_store, app[STREAMS], events)
    engine = MediaEngine(
        settings.media_config(), seat_listener=stage.seat_media, on_qr_code=qr_guard.seen
    )
    _follow_domain(events, engine)
    app[MEDIA] = engine
    app[LIVE] = live
    app[PRESENCE] = presence
    app[CHAT] = ChatService(
        store,
        live,
        live,
        app[ACCOUNTS],
        events,
        rate_limit=settings.chat_rate_limit,
        rate_window=settings.chat_rate_window,
        history=settings.chat_history,
        moderators=lifecycle_store,
    )
    app[MODERATION] = ModerationService(store, live, app[ACCOUNTS], events, lifecycle_store)
    app[COHOST] = CohostService(
        app[STREAMS], live, app[ACCOUNTS], events, settings.invite_ttl_seconds
    )
    app[LIFECYCLE] = LifecycleService(app[STREAMS], lifecycle_store, app[ACCOUNTS], events)
    app[ANALYTICS] = AnalyticsService(
        lifecycle_store, app[STREAMS], presence.count, store.stream_orders
    )
    app[ANALYTICS].follow(events)
    app[REMINDERS] = ReminderService(
        lifecycle_store,
        events,
        SmtpMailer(settings) if settings.smtp_host else None,
        settings.advertised_url,
    )
    app[REMINDERS].follow(events)
    app[OUTPUTS] = OutputsService(
        outputs_store,
        app[STREAMS],
        engine,
        settings.data_dir,
        hls=settings.hls,
        record=settings.record,
    )
    # After the sale: addresses and email, shipments and labels, the ledger.
    app[PROFILES] = ProfileService(SqlProfileStore(store))
    app[SHIPPING] = ShippingService(
        SqlShippingStore(store),
        app[STREAMS],
        app[PROFILES],
        app[ACCOUNTS],
        LabelDocuments(),
        SmtpMailer(settings),
    )
    app[LEDGER] = LedgerService(SqlLedgerStore(store), app[STREAMS])
    app[LEDGER].follow(events)
    # Across processes (Redis): each stream has a home process, which judges its auction.
    homes: StreamHomes | None = None
    routing: JudgeRouting | None = None
    if live.shared:
        homes = StreamHomes(live, settings.advertised_url, secret, events)
        routing = JudgeRouting(homes, app[SESSIONS], secret, settings.judge_timeout_seconds)
    _selling(app, store, presence, events, routing)
    # Sharers: referral links and their commission (shown in every `stream` object).
    app[SHARERS] = SharerService(sharer_store, app[STREAMS], app[ACCOUNTS])
    sio = signaling.realtime.create_server(
        settings.redis_url,
        settings.redis_timeout_seconds,
        settings.socketio_batch_ms,
        settings.socketio_batch_min_receivers,
        settings.client_queue_limit,
    )
    broadcaster = Broadcaster(sio, presence)
    broadcaster.follow(events)
    # Seat and lifecycle changes made on other processes reach this one's media here.
    remote_events = InProcessEventBus()
    _follow_domain(remote_events, engine)
    remote_events.subscribe(app[SESSIONS].on_event)  # revocations made elsewhere
    app[OUTPUTS].follow(events, remote_events)
    remote_events.subscribe(qr_guard.on_event)
    if homes is not None and routing is not None:
        app.middlewares.append(home_middleware(homes))
        # Viewers of streams homed elsewhere are served here from relayed frames.
        assert settings.redis_url is not None
        app[MEDIA_RELAY] = MediaRelay(
            settings.redis_url, engine, settings.advertised_url, homes.current
        )
        app.cleanup_ctx.append(_relay_ctx)
        # A running auction is judged by its stream's home: bids elsewhere go there.
        app[JUDGE_ROUTING] = routing
        remote_events.subscribe(app[AUCTIONS].on_event)
        app.on_cleanup.append(lambda _app: routing.close())

    # Order matters on shutdown (reverse): media closes before the store.
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_media_ctx(stage))
    app.cleanup_ctx.append(_live_ctx(backend, broadcaster, remote_events))
    app.cleanup_ctx.append(_clock_ctx)

    app.middlewares.insert(0, stream_context)  # outside the error middleware: its logs too

    async def close_hashing(_app: web.Application) -> None:
        hashing.close()

    app.on_cleanup.append(close_hashing)
    app.on_shutdown.append(disconnect_realtime)

    security.setup(app)
    http.setup(app)
    http_auth.setup(app)
    http_commerce.setup(app)
    http_lifecycle.setup(app)
    http_outputs.setup(app)
    http_after_sale.setup(app)
    http_selling.setup(app)
    http_sharers.setup(app)
    metrics.setup(app, events)
    signaling.whip.setup(app)
    signaling.whep.setup(app)
    app[REALTIME] = signaling.realtime.setup(app, sio)
    return app
