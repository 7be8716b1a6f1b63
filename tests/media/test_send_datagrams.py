"""UDP GSO batching keeps every datagram, its size and its order."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from media import rtpsender
from media.rtpsender import send_datagrams


@pytest.fixture
def udp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield sender, receiver
    sender.close()
    receiver.close()


# A keyframe's STAP-A, FU-A fragments one byte apart, a short last one, audio.
FRAME = [b"s" * 40] + [b"a" * 1201] * 3 + [b"b" * 1200] * 60 + [b"c" * 333, b"o" * 90]


@pytest.mark.parametrize("gso", [True, False])
def test_every_datagram_arrives_whole_and_in_order(udp_pair, gso, monkeypatch) -> None:
    monkeypatch.setitem(rtpsender._gso, "works", gso and rtpsender._gso["works"])
    sender, receiver = udp_pair
    numbered = [bytes([i % 256]) + d[1:] for i, d in enumerate(FRAME)]
    send_datagrams(sender, numbered, receiver.getsockname())
    received = [receiver.recv(65536) for _ in numbered]
    assert received == numbered
