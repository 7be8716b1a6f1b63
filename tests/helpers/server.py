"""Run the real app on a free port of 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from server.app import create_app
from server.config import Settings
from server.keys import SETTINGS


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


async def start_server(settings: Settings) -> RunningServer:
    """Run `create_app(settings)` on a free port of 127.0.0.1."""
    return await start_app(create_app(settings))


async def start_app(app: web.Application) -> RunningServer:
    """Run an app built by `create_app` (possibly with extra test routes) on 127.0.0.1."""
    settings = app[SETTINGS]
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return RunningServer(f"http://127.0.0.1:{port}", app, settings, runner)
