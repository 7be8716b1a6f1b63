"""ICE policy: which addresses the server gathers on and announces.

aioice gathers host candidates on every interface and skips loopback, and
aiortc falls back to a public STUN server when given no ICE servers. Both
are wrong for a server: it must gather only where it is told, and contact
only the STUN/TURN servers it is configured with.
"""

from __future__ import annotations

import re

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from media.config import MediaConfig

_default_host_addresses = aioice.ice.get_host_addresses


def restrict_host_addresses(addresses: tuple[str, ...]) -> None:
    """Gather host candidates on `addresses` only (all interfaces when empty).

    aioice reads this module-level function for every gathering, so the
    policy holds for every peer connection of the process.
    """
    if not addresses:
        aioice.ice.get_host_addresses = _default_host_addresses
        return

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in addresses if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = configured


def rtc_configuration(config: MediaConfig) -> RTCConfiguration:
    """An explicit ICE server list: never None, so no implicit public STUN."""
    servers = [
        RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
        for s in config.ice_servers
    ]
    return RTCConfiguration(iceServers=servers)


_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$", re.M)


def announce_public_address(sdp: str, public_address: str | None) -> str:
    """Replace the address of host candidates by the public (NAT) address."""
    if not public_address:
        return sdp
    return _CANDIDATE.sub(lambda m: m.group(1) + public_address + m.group(3), sdp)
