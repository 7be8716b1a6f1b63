"""Run the real app on a free port of 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from server.app import create_app
from server.config import Settings
from server.domain.times import utc_now
from server.keys import AUTH, SETTINGS, STORE
from server.lifecycle import SHUTDOWN_TIMEOUT


@dataclass
class RunningServer:
    """A started app: `url` is `http://127.0.0.1:<port>`."""

    url: str
    app: web.Application
    settings: Settings
    runner: web.AppRunner
    stopped: bool = False

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        """Shut down (runs the app's cleanup contexts); safe to call twice."""
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


async def start_server(settings: Settings, port: int = 0) -> RunningServer:
    """Run `create_app(settings)` on `port` (default: a free one) of 127.0.0.1."""
    return await start_app(create_app(settings), port)


async def start_app(app: web.Application, port: int = 0) -> RunningServer:
    """Run an app built by `create_app` (possibly with extra test routes) on 127.0.0.1."""
    settings = app[SETTINGS]
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = runner.addresses[0][1]
    return RunningServer(f"http://127.0.0.1:{port}", app, settings, runner)


async def add_user(server: RunningServer, name: str) -> str:
    """Create an account straight in the database and return its token.

    Registration over HTTP costs an argon2 hash (deliberately slow, seconds on a busy
    machine); accounts are tested in tests/server, everything else signs in this way.
    """
    assert await server.app[STORE].insert_user(name, "!unusable", utc_now().isoformat())
    return server.app[AUTH].issue(name)
