"""The `costream` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from server.config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="costream", description="Costream livestream server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP/WebRTC/Socket.IO server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default 8080)")
    serve.add_argument("--data-dir", type=Path, help="where SQLite and the secret live")
    serve.add_argument("--config", type=Path, help="TOML settings file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run; exit status 2 on a configuration error."""
    args = _parser().parse_args(argv)
    overrides = {"host": args.host, "port": args.port, "data_dir": args.data_dir}
    try:
        settings = load_settings(os.environ, args.config, overrides)
    except ConfigError as exc:
        print(f"costream: configuration error: {exc}", file=sys.stderr)
        return 2

    from server.app import create_app  # imported late: aiortc is slow to import
    from server.lifecycle import serve
    from server.logs import AccessLog, configure

    configure(settings.log_format)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"costream: configuration error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(app, settings.host, settings.port, access_log_class=AccessLog))
    return 0
