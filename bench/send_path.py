"""Per-viewer send path, piece by piece: CPU per RTP packet of each step.

Feeds real 1.5 Mb/s H264 packets (moving 720p content through
media.encoder.VideoEncoder) through the steps aiortc's RTCRtpSender runs for
every viewer: pack() (per frame), RtpPacket + header extensions +
serialize, two clock reads, SRTP protect, and a UDP sendto on loopback
(to a socket of this process, drained). media/rtpsender.py's FanoutSender
replaces most of these per viewer (see docs/benchmarks.md).

    .venv/bin/python bench/send_path.py --frames 300
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import clock  # noqa: E402
from aiortc.codecs.h264 import H264Encoder  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters  # noqa: E402
from aiortc.rtp import HeaderExtensionsMap, RtpPacket  # noqa: E402
from pylibsrtp import Policy, Session  # noqa: E402

from bench.common import machine, moving_frame  # noqa: E402
from media.config import MediaConfig  # noqa: E402
from media.encoder import VideoEncoder  # noqa: E402


def encoded_frames(count: int) -> list:
    config = MediaConfig()
    encoder = VideoEncoder(config.width, config.height, config.fps, config.video_bitrate, 2.0)
    packets = []
    for index in range(count):
        packets += encoder.encode(moving_frame(index, 0), index * 3000)
    return packets


def cpu_us(step, items: list, repeat: int = 1) -> float:
    """CPU µs per item of `step(item)`."""
    start = time.process_time()
    for _ in range(repeat):
        for item in items:
            step(item)
    return (time.process_time() - start) / (len(items) * repeat) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    print(machine())
    frames = encoded_frames(args.frames)
    encoder = H264Encoder()
    payloads = [p for f in frames for p in encoder.pack(f)[0]]
    per_frame = len(payloads) / len(frames)
    size = sum(map(len, payloads)) / len(payloads)
    print(f"{len(frames)} frames, {per_frame:.1f} RTP packets per frame, {size:.0f} B per payload")

    extensions = HeaderExtensionsMap()
    extensions.configure(
        type(
            "P",
            (),
            {
                "headerExtensions": [
                    RTCRtpHeaderExtensionParameters(1, "urn:ietf:params:rtp-hdrext:sdes:mid"),
                    RTCRtpHeaderExtensionParameters(
                        3, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                    ),
                ]
            },
        )()
    )

    sequence = iter(range(10**9))

    def rtp(payload: bytes) -> bytes:  # as RTCRtpSender._run_rtp does per packet
        packet = RtpPacket(payload_type=102, sequence_number=next(sequence) & 0xFFFF, timestamp=2)
        packet.ssrc, packet.payload, packet.marker = 3, payload, 0
        packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        packet.extensions.mid = "0"
        data = packet.serialize(extensions)
        clock.current_ntp_time()  # __ntp_timestamp after sending
        return data

    srtp = Session(policy=Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    source = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    source.setblocking(False)
    address = sink.getsockname()
    serialized = [rtp(p) for p in payloads]
    protected = []

    def protect(data: bytes) -> None:
        protected.append(srtp.protect(data))

    def sendto_us(datagrams: list[bytes], batch: int = 32) -> float:
        """sendto alone; the sink is drained between batches, off the clock."""
        spent = 0.0
        for start in range(0, len(datagrams), batch):
            began = time.process_time()
            for data in datagrams[start : start + batch]:
                source.sendto(data, address)
            spent += time.process_time() - began
            with contextlib.suppress(BlockingIOError):
                while True:
                    sink.recv(2048)
        return spent / len(datagrams) * 1e6

    steps = {
        "pack() per packet (aiortc, per viewer)": cpu_us(encoder.pack, frames, 3) / per_frame,
        "RtpPacket + extensions + serialize + 2 clocks": cpu_us(rtp, payloads, 3),
        "  of which 2 x clock.current_ntp_time()": cpu_us(
            lambda _: (clock.current_ntp_time(), clock.current_ntp_time()), payloads, 3
        ),
        "SRTP protect": cpu_us(protect, serialized),
        "UDP sendto 127.0.0.1": sendto_us(protected[: len(serialized)] * 3),
    }
    for name, us in steps.items():
        print(f"{name:48s} {us:6.2f} us")
    total = sum(us for name, us in steps.items() if not name.startswith("  "))
    print(f"{'sum of the steps per packet':48s} {total:6.2f} us")


if __name__ == "__main__":
    main()
