"""Every typed application key, in one place.

Types are imported only for type checkers (the annotations are never evaluated),
so any module may import the keys without import cycles. The server names what it
needs of the signaling layer as protocols here: it never imports `signaling`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from media.engine import MediaEngine
    from server.auction_routing import JudgeRouting
    from server.auth import TokenService
    from server.config import Settings
    from server.domain.accounts import AccountService
    from server.domain.analytics import AnalyticsService
    from server.domain.auctions import AuctionService
    from server.domain.chat import ChatService
    from server.domain.clock import SellingClock
    from server.domain.codes import CodeService
    from server.domain.cohost import CohostService
    from server.domain.commerce import CommerceService
    from server.domain.events import EventBus
    from server.domain.giveaways import GiveawayService
    from server.domain.ledger import LedgerService
    from server.domain.lifecycle import LifecycleService
    from server.domain.moderation import ModerationService
    from server.domain.outputs import OutputsService
    from server.domain.presence import PresenceService
    from server.domain.profile import ProfileService
    from server.domain.reminders import ReminderService
    from server.domain.sessions import SessionService
    from server.domain.sharers import SharerService
    from server.domain.shipping import ShippingService
    from server.domain.streams import StreamService
    from server.store import Database
    from server.stores import LiveStore


class Realtime(Protocol):
    """The Socket.IO layer as the drain sees it (signaling.realtime.Realtime)."""

    sio: Any  # socketio.AsyncServer
    conns: Mapping[str, Any]


class MediaRelay(Protocol):
    """Relayed frames of streams homed elsewhere (signaling.relay.MediaRelay)."""

    redis: Any  # redis.asyncio.Redis

    def upstream(self, stream_id: str, home: str) -> Callable[[], Any]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Database] = web.AppKey("store")
AUTH: web.AppKey[TokenService] = web.AppKey("auth")
ACCOUNTS: web.AppKey[AccountService] = web.AppKey("accounts")
STREAMS: web.AppKey[StreamService] = web.AppKey("streams")
EVENTS: web.AppKey[EventBus] = web.AppKey("events")
MEDIA: web.AppKey[MediaEngine] = web.AppKey("media")
LIVE: web.AppKey[LiveStore] = web.AppKey("live")
PRESENCE: web.AppKey[PresenceService] = web.AppKey("presence")
CHAT: web.AppKey[ChatService] = web.AppKey("chat")
MODERATION: web.AppKey[ModerationService] = web.AppKey("moderation")
COHOST: web.AppKey[CohostService] = web.AppKey("cohost")
REALTIME: web.AppKey[Realtime] = web.AppKey("realtime")
COMMERCE: web.AppKey[CommerceService] = web.AppKey("commerce")
MEDIA_RELAY: web.AppKey[MediaRelay] = web.AppKey("media_relay")
JUDGE_ROUTING: web.AppKey[JudgeRouting] = web.AppKey("judge_routing")
LIFECYCLE: web.AppKey[LifecycleService] = web.AppKey("lifecycle")
ANALYTICS: web.AppKey[AnalyticsService] = web.AppKey("analytics")
REMINDERS: web.AppKey[ReminderService] = web.AppKey("reminders")
SESSIONS: web.AppKey[SessionService] = web.AppKey("sessions")
OUTPUTS: web.AppKey[OutputsService] = web.AppKey("outputs")
PROFILES: web.AppKey[ProfileService] = web.AppKey("profiles")
SHIPPING: web.AppKey[ShippingService] = web.AppKey("shipping")
LEDGER: web.AppKey[LedgerService] = web.AppKey("ledger")
AUCTIONS: web.AppKey[AuctionService] = web.AppKey("auctions")
CODES: web.AppKey[CodeService] = web.AppKey("codes")
GIVEAWAYS: web.AppKey[GiveawayService] = web.AppKey("giveaways")
SELLING_CLOCK: web.AppKey[SellingClock] = web.AppKey("selling_clock")
SHARERS: web.AppKey[SharerService] = web.AppKey("sharers")
