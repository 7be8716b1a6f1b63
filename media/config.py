"""Media settings, independent of how the server reads its configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IceServer:
    """One STUN/TURN server handed to every RTCPeerConnection."""

    urls: str
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class MediaConfig:
    """Output format of the composite and the ICE policy of every peer."""

    width: int = 1280
    height: int = 720
    fps: int = 30
    video_bitrate: int = 1_500_000
    keyframe_interval: float = 2.0
    # A stalled input keeps its last frame this long, then its tile is dropped.
    stall_hold: float = 1.0
    ice_servers: tuple[IceServer, ...] = ()
    # Addresses the server gathers host candidates on; empty means every
    # interface (aioice's default, which skips loopback).
    ice_host_addresses: tuple[str, ...] = ("127.0.0.1",)
    # Address announced in place of the gathered one (1:1 NAT / public IP).
    ice_public_address: str | None = None
    # A session whose peer connection is not connected this long after the answer is
    # closed (an offer without usable candidates would otherwise linger forever).
    connect_timeout: float = 15.0
