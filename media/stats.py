"""Process-wide media counters, read by the server's metrics (media knows no exporter).

Plain numbers updated where the work happens (cheap: no locks; a lost update
between two rooms' encoder threads is acceptable for monitoring).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MediaCounters:
    frames_encoded: int = 0
    encode_seconds: float = 0.0  # compose + encode time of those frames
    rtp_packets_sent: int = 0  # by every viewer's FanoutSender (retransmissions excluded)
    rtp_bytes_sent: int = 0  # payload bytes of those packets
    relayed_frames_in: int = 0  # frames received from other processes' homes


COUNTERS = MediaCounters()
