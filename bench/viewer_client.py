"""Many WHEP viewers in one process, driven over stdin by bench/viewers.py.

Commands (one per line): `add N` opens N more viewers and answers when they
are connected; `stats` answers received byte/packet/frame counters; `quit`
closes every viewer. Answers are one JSON object per line on stdout.

Receive modes (--receive):
- light (default): once a viewer is connected, its SRTP packets are counted
  from their clear RTP header and fed to aiortc's per-stream statistics, so
  its receivers still send genuine RTCP receiver reports (~1/s each), but
  nothing is decrypted, reassembled or decoded. No REMB and no NACKs are
  sent. This keeps 100 viewers affordable on a 2-core machine.
- aiortc: aiortc's whole receive path (SRTP, NACK, REMB, jitter buffer)
  with a null decoder. About 6x the client CPU per packet of `light`; an
  overloaded client floods the server with REMB (one per packet while
  "overusing").
- decode: as aiortc, and video is decoded.

    .venv/bin/python bench/viewer_client.py --url http://127.0.0.1:8090 --stream ID
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aioice.ice  # noqa: E402
import aiortc.rtcrtpreceiver as rtcrtpreceiver  # noqa: E402

from bench.common import loopback_only, process_cpu  # noqa: E402
from tests.helpers.peers import HttpSignal, Viewer  # noqa: E402

COUNTS: Counter[str] = Counter()


class NullDecoder:
    """Counts complete encoded frames instead of decoding them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def decode(self, encoded_frame) -> list:
        COUNTS[f"{self.kind}_frames"] += 1
        return []


def count_received_packets() -> None:
    original = rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet

    async def counting(self, packet, arrival_time_ms: int) -> None:
        kind = self._RTCRtpReceiver__kind
        COUNTS[f"{kind}_packets"] += 1
        COUNTS[f"{kind}_bytes"] += len(packet.payload)
        await original(self, packet, arrival_time_ms)

    rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet = counting


LIGHT: dict[aioice.ice.Connection, object] = {}  # ICE connection -> its DTLS transport
STREAMS: dict[tuple[aioice.ice.Connection, int], tuple[str, object]] = {}


class Header:
    """What StreamStatistics.add reads of a packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self, data: bytes) -> None:
        self.sequence_number = int.from_bytes(data[2:4])
        self.timestamp = int.from_bytes(data[4:8])


def light_receive() -> None:
    """Count SRTP packets of connected viewers from their clear RTP headers."""
    original = aioice.ice.Connection.data_received

    def data_received(self, data: bytes, component: int) -> None:
        dtls = LIGHT.get(self)
        if dtls is None or not 127 < data[0] < 192:
            return original(self, data, component)  # STUN, DTLS, or not yet connected
        if 192 <= data[1] <= 223:
            COUNTS["rtcp_packets"] += 1
            return
        key = (self, int.from_bytes(data[8:12]))
        stream = STREAMS.get(key)
        if stream is None:
            receiver = dtls._rtp_router.route_rtp(rtcrtpreceiver.RtpPacket.parse(data))
            if receiver is None:
                return
            kind = receiver._RTCRtpReceiver__kind
            stats = rtcrtpreceiver.StreamStatistics(90000 if kind == "video" else 48000)
            receiver._RTCRtpReceiver__remote_streams[key[1]] = stats
            stream = STREAMS[key] = (kind, stats)
        kind, stats = stream
        stats.add(Header(data))
        COUNTS[f"{kind}_packets"] += 1
        COUNTS[f"{kind}_bytes"] += len(data)
        if data[1] & 0x80:  # marker: last packet of a video frame
            COUNTS[f"{kind}_frames"] += kind == "video"

    aioice.ice.Connection.data_received = data_received


def count_sent_rtcp() -> None:
    original = rtcrtpreceiver.RTCRtpReceiver._send_rtcp

    async def counting(self, packet) -> None:
        COUNTS["rtcp_sent"] += 1
        await original(self, packet)

    rtcrtpreceiver.RTCRtpReceiver._send_rtcp = counting


def go_light(viewer: Viewer) -> None:
    dtls = viewer.pc.getReceivers()[0].transport
    LIGHT[dtls.transport._connection] = dtls


def discard_decoding() -> None:
    rtcrtpreceiver.get_decoder = lambda codec: NullDecoder(codec.mimeType.split("/")[0])


async def open_viewers(
    url: str, stream: str, count: int, parallel: int, light: bool
) -> list[Viewer]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> Viewer | None:
        async with gate:
            viewer = Viewer()
            try:
                await viewer.start(HttpSignal(url, f"/whep/{stream}"))
                async with asyncio.timeout(15):
                    while viewer.pc.connectionState != "connected":
                        if viewer.pc.connectionState in ("failed", "closed"):
                            raise ConnectionError(viewer.pc.connectionState)
                        await asyncio.sleep(0.05)
                if light:
                    go_light(viewer)
                return viewer
            except Exception:
                await viewer.close()
                return None

    opened = await asyncio.gather(*(one() for _ in range(count)))
    return [v for v in opened if v is not None]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--parallel", type=int, default=8, help="concurrent WHEP setups")
    parser.add_argument("--receive", choices=("light", "aiortc", "decode"), default="light")
    args = parser.parse_args()
    loopback_only()
    light = args.receive == "light"
    count_sent_rtcp()
    if light:
        light_receive()
    else:
        count_received_packets()
    if args.receive != "decode":
        discard_decoding()

    viewers: list[Viewer] = []
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(body: dict) -> None:
        print(json.dumps(body), flush=True)

    while line := (await reader.readline()).decode().strip():
        command, *rest = line.split()
        if command == "add":
            started = time.perf_counter()
            opened = await open_viewers(args.url, args.stream, int(rest[0]), args.parallel, light)
            viewers += opened
            answer(
                {
                    "viewers": len(viewers),
                    "failed": int(rest[0]) - len(opened),
                    "seconds": time.perf_counter() - started,
                }
            )
        elif command == "stats":
            connected = sum(v.pc.connectionState == "connected" for v in viewers)
            answer(
                {
                    "time": time.monotonic(),
                    "cpu": process_cpu(os.getpid()),
                    "connected": connected,
                    **COUNTS,
                }
            )
        elif command == "quit":
            break
    await asyncio.gather(*(v.close() for v in viewers), return_exceptions=True)
    answer({"closed": len(viewers)})


if __name__ == "__main__":
    asyncio.run(main())
