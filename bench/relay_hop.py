"""The relay hop of viewers on any process: home -> Redis pub/sub -> another process.

Publishes a stream's worth of frames (30 video frames/s of --video-kb, 50 Opus
packets/s of 160 B) in signaling/relay.py's wire format through a private
redis-server, to --subscribers processes, and prints the latency from the
home's publish to each subscriber's decoded frame (p50/p99/max) and the CPU the
home and one subscriber spend per frame. Everything on 127.0.0.1.

    .venv/bin/python bench/relay_hop.py --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signaling.relay import decode_frame, encode_frame, frames_channel  # noqa: E402
from tests.helpers.cluster import start_redis, stop  # noqa: E402

STREAM = "bench"


def subscriber(url: str, ready, results, seconds: float) -> None:
    async def main() -> None:
        redis = Redis.from_url(url)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(frames_channel(STREAM))
        ready.put(True)
        latencies, cpu0 = [], time.process_time()
        deadline = time.monotonic() + seconds + 5
        while time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            kind, payloads, timestamp, *_ = decode_frame(message["data"])
            if kind == "video" and payloads[0] == b"end":
                break
            # The timestamp field carries the send time in µs, modulo 2**32.
            latencies.append(((int(time.time() * 1e6) - timestamp) & 0xFFFFFFFF) / 1000)
        results.put((latencies, time.process_time() - cpu0))
        await pubsub.aclose()
        await redis.aclose()

    asyncio.run(main())


async def publish(url: str, seconds: float, video_kb: int) -> tuple[int, float]:
    redis = Redis.from_url(url)
    channel = frames_channel(STREAM)
    video = [bytes(1180)] * max(1, video_kb * 1024 // 1180)
    audio = [bytes(160)]
    sent, cpu0, start = 0, time.process_time(), time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        stamp = int(time.time() * 1e6) & 0xFFFFFFFF  # fits the wire's uint32
        if tick % 5 in (0, 2, 4):  # 3 of every 5 ticks of 20 ms: 30 video frames/s
            await redis.publish(channel, encode_frame("video", video, stamp, tick % 60 == 0, 1))
            sent += 1
        await redis.publish(channel, encode_frame("audio", audio, stamp, False, 1))  # 50/s
        sent += 1
        tick += 1
        await asyncio.sleep(start + tick / 50 - time.monotonic())
    cpu = time.process_time() - cpu0
    await redis.publish(channel, encode_frame("video", [b"end"], 0, False, 1))
    await redis.aclose()
    return sent, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=2)
    parser.add_argument("--video-kb", type=int, default=6, help="size of one video frame")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis = start_redis(Path(tmp) / "redis.log")
        try:
            context = multiprocessing.get_context("fork")
            ready, results = context.Queue(), context.Queue()
            workers = [
                context.Process(target=subscriber, args=(redis.url, ready, results, args.seconds))
                for _ in range(args.subscribers)
            ]
            for worker in workers:
                worker.start()
            for _ in workers:
                ready.get(timeout=30)
            sent, home_cpu = asyncio.run(publish(redis.url, args.seconds, args.video_kb))
            got = [results.get(timeout=60) for _ in workers]
            for worker in workers:
                worker.join(timeout=10)
        finally:
            stop(redis.process)
    latencies = sorted(ms for lat, _ in got for ms in lat)
    cuts = statistics.quantiles(latencies, n=100)
    received = sum(len(lat) for lat, _ in got)
    print(f"sent {sent} messages ({sent / args.seconds:.0f}/s), received {received}")
    print(
        f"latency publish -> subscriber: p50 {cuts[49]:.2f} ms, p99 {cuts[98]:.2f} ms,"
        f" max {latencies[-1]:.2f} ms"
    )
    print(
        f"CPU per message: home {home_cpu / sent * 1e6:.0f} us,"
        f" subscriber {got[0][1] / len(got[0][0]) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
