"""Debian's nginx on loopback for tests: an HTTP cache in front of Costream, an RTMP
ingest, the deployment's load balancer.

Each instance runs in the foreground (`daemon off`) with its own prefix
directory holding its configuration, logs, cache and temporary files.
"""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.cluster import free_port, stop, wait_until

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
# Written when a request reached Costream (a cache miss, expiry or revalidation).
ACCESS_FORMAT = "$upstream_cache_status $uri $upstream_addr"


@dataclass
class Nginx:
    process: subprocess.Popen
    port: int
    prefix: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def access_log(self) -> list[tuple[str, str, str]]:
        """(cache status, path, upstream address) of every request served so far."""
        path = self.prefix / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [tuple(line.split(" ", 2)) for line in lines if line.count(" ") >= 2]

    def stop(self) -> None:
        stop(self.process)


def _common(prefix: Path) -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/tmp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return temp


def _start(prefix: Path, port: int, conf: str) -> Nginx:
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(conf)
    process = subprocess.Popen(
        ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=(prefix / "stdout.log").open("wb"),
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_until(listening, "nginx", process, 20)
    except BaseException:
        stop(process)
        raise
    return Nginx(process, port, prefix)


def _head(prefix: Path, modules: str = "") -> str:
    return f"""{modules}
daemon off;
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
"""


def _http(prefix: Path, body: str, access_log: str = "") -> str:
    """A whole configuration: the main part, then an `http` block holding `body`."""
    log = access_log or f"access_log {prefix}/access.log;"
    return _head(prefix) + f"http {{\n    {log}\n{_common(prefix)}\n{body}\n}}\n"


def start_hls_cache(prefix: Path, upstream: str) -> Nginx:
    """A caching reverse proxy that obeys Costream's Cache-Control headers.

    `proxy_cache_lock` lets one request per URL through to Costream while the
    others wait for the cached answer, as a CDN edge does.
    """
    port = free_port()
    log = f"log_format upstream '{ACCESS_FORMAT}';\n    access_log {prefix}/access.log upstream;"
    conf = _http(
        prefix,
        f"""
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=hls:10m max_size=256m
                     inactive=10m use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_cache hls;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 5s;
            proxy_cache_use_stale updating;
        }}
    }}""",
        log,
    )
    return _start(prefix, port, conf)


def start_rtmp_ingest(prefix: Path) -> Nginx:
    """nginx-rtmp accepting (and replaying to readers) any stream under rtmp://.../live/."""
    port = free_port()
    conf = (
        _head(prefix, f"load_module {RTMP_MODULE};")
        + f"""
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
        }}
    }}
}}
"""
    )
    return _start(prefix, port, conf)


def start_balancer(prefix: Path, site: Path, upstreams: list[int]) -> Nginx:
    """The deployment's own load balancer (`site`, an nginx conf.d file such as
    deploy/nginx.conf) on a free port, its `server 127.0.0.1:N;` upstream lines pointed
    at `upstreams` in order, inside a minimal nginx main configuration."""
    port = free_port()
    text = site.read_text()
    listed = re.findall(r"^\s*server 127\.0\.0\.1:\d+;", text, flags=re.MULTILINE)
    assert len(listed) == len(upstreams), f"{site} names {len(listed)} upstream servers"
    ports = iter(upstreams)
    text = re.sub(r"(server 127\.0\.0\.1:)\d+;", lambda m: f"{m[1]}{next(ports)};", text)
    text, listens = re.subn(r"listen \d+;", f"listen 127.0.0.1:{port};", text)
    assert listens == 1, f"{site} must listen on one port"
    return _start(prefix, port, _http(prefix, text))


def start_proxy_refusing_websockets(prefix: Path, upstream: str) -> Nginx:
    """A reverse proxy that answers 403 to every websocket upgrade, as some corporate
    proxies do: Socket.IO clients must fall back to long polling through it."""
    port = free_port()
    conf = _http(
        prefix,
        f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{
            if ($http_upgrade ~* websocket) {{
                return 403;
            }}
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;  # the page's origin is this proxy
        }}
    }}""",
    )
    return _start(prefix, port, conf)
