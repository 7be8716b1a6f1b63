"""The fuzz suite, longer: random (not derandomized) Hypothesis examples against a live
show in this process, then a check that a new viewer still gets the host's picture.

    .venv/bin/python bench/fuzz.py --examples 500
    .venv/bin/python bench/fuzz.py --examples 500 --database-url postgresql://... \
        --redis-url redis://127.0.0.1:PORT/0

Prints the answers seen by kind and status, failures (must be none) and the time taken.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import warnings
from pathlib import Path

from hypothesis.errors import HypothesisDeprecationWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.config import Settings  # noqa: E402
from tests.helpers.api import Api  # noqa: E402
from tests.helpers.fuzz import run_all  # noqa: E402
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer, looks  # noqa: E402
from tests.helpers.server import start_server  # noqa: E402
from tests.limits.test_fuzz import live_target  # noqa: E402


async def main(
    examples: int, sdp_examples: int, database_url: str | None, redis_url: str | None
) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            ice_host_addresses=("127.0.0.1",),
            media_connect_timeout=2.0,
            max_sessions_per_address=10_000,
            auth_rate_limit=1_000_000,
            auth_user_rate_limit=1_000_000,
            database_url=database_url,
            redis_url=redis_url,
        )
        server = await start_server(settings)
        try:
            async with Api(server.url) as api:
                target = await live_target(server, api)
                signal = HttpSignal(server.url, f"/whip/{target.stream_id}", target.tokens["host"])
                host = await Publisher(RED, 440).start(signal)
                report, seconds = await run_all(
                    target, api, examples, examples, sdp_examples, derandomize=False
                )
                viewer = await Viewer().start(HttpSignal(server.url, f"/whep/{target.stream_id}"))
                try:
                    await viewer.wait_for(
                        lambda: viewer.frame is not None and looks(viewer.halves()[0], "red"), 20
                    )
                    show_goes_on = True
                except TimeoutError:
                    show_goes_on = False
                await viewer.close()
                await host.close()
        finally:
            await server.stop()
    print(f"fuzz: {report.examples} examples in {seconds:.1f} s")
    for kind, count in sorted(report.statuses.items()):
        print(f"  {kind:12s} {count}")
    print(f"failures: {len(report.failures)}")
    for failure in report.failures:
        print(f"  {failure}")
    print(f"a new viewer sees the host afterwards: {show_goes_on}")
    return 0 if show_goes_on and not report.failures else 1


if __name__ == "__main__":
    # The server's own use of `random` on the loop is not the strategies' (see the test).
    warnings.filterwarnings("ignore", category=HypothesisDeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="REST and Socket.IO examples")
    parser.add_argument("--sdp-examples", type=int, default=100, help="mutated SDP offers")
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database to use (default: SQLite)"
    )
    parser.add_argument("--redis-url", help="a Redis for realtime state (default: memory)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.examples, args.sdp_examples, args.database_url, args.redis_url)))
