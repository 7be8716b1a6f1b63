"""Domain events: what the domain publishes when something happened, and the bus it
publishes to (a Protocol: the implementation is infrastructure, server.event_bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from server.domain.auctions import Auction
    from server.domain.chat import ChatMessage
    from server.domain.cohost import Invite
    from server.domain.commerce import Listing, Order
    from server.domain.giveaways import Giveaway
    from server.domain.streams import Stream


@dataclass(frozen=True)
class StreamStatusChanged:
    """A stream went live or ended; `stream` is its state afterwards."""

    stream: Stream


@dataclass(frozen=True)
class CohostChanged:
    """The cohost seat changed: `previous` left it (if any), `cohost` holds it now."""

    stream_id: str
    cohost: str | None
    previous: str | None


@dataclass(frozen=True)
class SeatMediaChanged:
    """A seat's pictures started (`on_air`) or stopped arriving at the stream's home.

    `username` holds the seat now (None: a cohost seat already freed); `host` is the
    stream's host, who hears about the cohost's media.
    """

    stream_id: str
    seat: str  # "host" or "cohost"
    username: str | None
    host: str
    on_air: bool


@dataclass(frozen=True)
class CohostDropped:
    """The cohost's media stayed away longer than the grace window: the seat was freed."""

    stream_id: str
    username: str
    host: str


@dataclass(frozen=True)
class ChatPosted:
    """A chat message was accepted (mentions already resolved)."""

    message: ChatMessage


@dataclass(frozen=True)
class ChatHidden:
    """The host hid a chat message: it is removed for everyone."""

    stream_id: str
    message_id: str


@dataclass(frozen=True)
class UserMuted:
    """The host muted (or unmuted) a user in one stream."""

    stream_id: str
    username: str
    muted: bool


@dataclass(frozen=True)
class InviteSent:
    """The host invited someone to the cohost seat."""

    invite: Invite


@dataclass(frozen=True)
class InviteDeclined:
    """The invitee said no."""

    invite: Invite


@dataclass(frozen=True)
class InviteExpired:
    """Nobody answered the invite in time."""

    invite: Invite


@dataclass(frozen=True)
class InviteCancelled:
    """The host withdrew the invite before it was answered."""

    invite: Invite


@dataclass(frozen=True)
class PresenceChanged:
    """Someone joined or left a stream's live room (`joined` False: left)."""

    stream_id: str
    conn_id: str | None = None
    username: str | None = None
    joined: bool = True


@dataclass(frozen=True)
class ListingCreated:
    """The host put a new item up for sale."""

    listing: Listing


@dataclass(frozen=True)
class ListingUpdated:
    """A listing changed (after each sale: `remaining`, and `status` at zero)."""

    listing: Listing


@dataclass(frozen=True)
class ListingPresented:
    """The host or cohost is showing this item on air now."""

    listing: Listing


@dataclass(frozen=True)
class OrderPlaced:
    """Someone bought an item; `order.seller` is the host."""

    order: Order


@dataclass(frozen=True)
class Pinned:
    """The host or cohost pinned a message (or unpinned: `pinned` None)."""

    stream_id: str
    pinned: dict[str, Any] | None


@dataclass(frozen=True)
class ModeratorsChanged:
    """The host appointed (or dismissed) a moderator."""

    stream_id: str
    username: str
    appointed: bool


@dataclass(frozen=True)
class ChatSettingsChanged:
    """Slow mode changed (blocked words stay with the moderators)."""

    stream_id: str
    slow_mode_seconds: int


@dataclass(frozen=True)
class Raided:
    """The host sends this show's viewers to `target` (a live show); this one ends next."""

    stream_id: str
    target: Stream


@dataclass(frozen=True)
class RemindersDue:
    """A show went live: each of `usernames` gets `reminder` on every connection."""

    stream: Stream
    usernames: tuple[str, ...]


@dataclass(frozen=True)
class QrCodeShown:
    """The composite showed a QR code (seller rules forbid it): warn the host."""

    stream_id: str
    host: str
    payload: str
    detected_at: str


@dataclass(frozen=True)
class TokensRevoked:
    """A token (`token_id`) or every token of the user (`token_id` None) was revoked;
    `generation` is the user's new one when known. Relayed to every process."""

    username: str
    token_id: str | None
    expires_at: int  # epoch s: the revoked token's expiry (when it is forgotten)
    generation: int | None = None


@dataclass(frozen=True)
class AuctionStarted:
    auction: Auction


@dataclass(frozen=True)
class AuctionUpdated:
    """A bid was accepted (the auction after it)."""

    auction: Auction


@dataclass(frozen=True)
class AuctionOutbid:
    """`usernames` lost the lead since the last news (or a proxy beat their bid at
    once): one event for all of them, so the message is built once."""

    auction: Auction
    usernames: tuple[str, ...]


@dataclass(frozen=True)
class AuctionEnded:
    """Closed: `order` is the winner's, None when nobody bid."""

    auction: Auction
    order: Order | None


@dataclass(frozen=True)
class GiveawayStarted:
    giveaway: Giveaway


@dataclass(frozen=True)
class GiveawayUpdated:
    """Someone new entered (the entrant count changed)."""

    giveaway: Giveaway


@dataclass(frozen=True)
class GiveawayEnded:
    """Drawn: the seed is revealed and `winner` set (or None)."""

    giveaway: Giveaway


Event = (
    StreamStatusChanged
    | CohostChanged
    | SeatMediaChanged
    | CohostDropped
    | ChatPosted
    | ChatHidden
    | UserMuted
    | InviteSent
    | InviteDeclined
    | InviteExpired
    | InviteCancelled
    | PresenceChanged
    | ListingCreated
    | ListingUpdated
    | ListingPresented
    | OrderPlaced
    | Pinned
    | ModeratorsChanged
    | ChatSettingsChanged
    | Raided
    | RemindersDue
    | QrCodeShown
    | TokensRevoked
    | AuctionStarted
    | AuctionUpdated
    | AuctionOutbid
    | AuctionEnded
    | GiveawayStarted
    | GiveawayUpdated
    | GiveawayEnded
)
Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    """Where services publish events and followers subscribe to them."""

    def subscribe(self, handler: Handler) -> None:
        """Add `handler`; it receives every event and filters by type itself."""
        ...

    async def publish(self, event: Event) -> None:
        """Deliver `event` to every subscriber."""
        ...
