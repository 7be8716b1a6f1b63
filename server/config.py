"""Server settings: defaults < TOML config file < COSTREAM_* env vars < CLI overrides."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media.config import IceServer, MediaConfig
from server.files import private_dir

ENV_PREFIX = "COSTREAM_"
# Names the config file itself; not a Settings field.
CONFIG_ENV = "COSTREAM_CONFIG"


class ConfigError(ValueError):
    """Bad configuration: unknown key, unparsable or out-of-range value."""


_POSITIVE = (
    "token_ttl_seconds",
    "max_body_bytes",
    "video_width",
    "video_height",
    "video_fps",
    "video_bitrate",
    "keyframe_interval",
    "invite_ttl_seconds",
    "chat_rate_limit",
    "chat_rate_window",
    "chat_history",
    "cohost_grace_seconds",
    "host_grace_seconds",
    "redis_timeout_seconds",
    "judge_timeout_seconds",
    "token_sync_seconds",
    "live_ttl_seconds",
    "drain_seconds",
    "auction_snipe_seconds",
    "auction_min_seconds",
    "giveaway_min_seconds",
    "restart_window_seconds",
    "cover_max_bytes",
    "media_connect_timeout",
    "max_media_sessions",
    "max_sessions_per_stream",
    "max_sessions_per_user",
    "max_sessions_per_address",
    "max_rooms_per_user",
    "auth_rate_limit",
    "auth_rate_window",
    "auth_user_rate_limit",
    "password_hash_concurrency",
    "join_listings_limit",
    "socketio_batch_min_receivers",
    "client_queue_limit",
)


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment, validated once."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    database_path: Path | None = None
    # postgresql://user:password@host:port/database selects PostgreSQL (else SQLite).
    database_url: str | None = None
    redis_url: str | None = None
    # How other processes and clients reach this one (the target of 307 media redirects).
    public_url: str | None = None
    secret_key: str | None = None
    token_ttl_seconds: int = 7 * 24 * 3600
    max_body_bytes: int = 64 * 1024
    video_width: int = 1280
    video_height: int = 720
    video_fps: int = 30
    video_bitrate: int = 1_500_000
    keyframe_interval: float = 2.0
    # Always an explicit list: aiortc falls back to a public STUN server when given None.
    ice_servers: tuple[IceServer, ...] = ()
    ice_host_addresses: tuple[str, ...] = ("127.0.0.1",)
    ice_public_address: str | None = None
    invite_ttl_seconds: int = 120
    chat_rate_limit: int = 5
    chat_rate_window: float = 5.0
    chat_history: int = 200
    # A cohost whose media stopped keeps the seat this long, then it is freed.
    cohost_grace_seconds: float = 60.0
    # A host whose media stopped has the live show ended this long after (viewers see
    # the "host reconnecting" slate meanwhile; the studio republishes by itself).
    host_grace_seconds: float = 300.0
    # Every Redis call gives up after this long (503 backend_unavailable), never hangs.
    redis_timeout_seconds: float = 2.0
    # A bid forwarded to its auction's judge (another process) fails after this long
    # (503 backend_unavailable); further bids to that judge then fail at once for as
    # long, instead of each waiting it out.
    judge_timeout_seconds: float = 5.0
    # Token revocations made by other processes reach this one over Redis at once; it
    # also rereads them from the database at least this often (if Redis lost one).
    token_sync_seconds: float = 5.0
    # Stream homes and presence entries in Redis expire this long after their process
    # stopped refreshing them (it refreshes every third of it).
    live_ttl_seconds: int = 30
    # On SIGTERM, in-flight requests get this long to finish before the process exits.
    drain_seconds: float = 5.0
    # Coalescing window of room emits (Nagle-like: a lone emit goes at once, a burst
    # waits at most this long, then each receiver gets it in one write). 0: off.
    socketio_batch_ms: int = 150
    # Only emits to this many receivers or more are coalesced (small rooms keep latency).
    socketio_batch_min_receivers: int = 200
    # A Socket.IO connection with this many packets waiting for its client (one that
    # does not read) is dropped; the page reconnects.
    client_queue_limit: int = 2000
    # "text" (human) or "json" (one object per line, for log shippers); see docs/operations.md.
    log_format: str = "text"
    # Show lifecycle: an ended show may go live again within this many seconds.
    restart_window_seconds: int = 2 * 3600
    cover_max_bytes: int = 5 * 1024 * 1024
    # Outputs beyond WebRTC (docs/protocol-outputs.md): HLS of every live stream,
    # and recording of every stream unless its own `record` says otherwise.
    hls: bool = True
    record: bool = False
    # Outgoing mail (labels to a consignor, show reminders): unset smtp_host = none is sent.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "costream@localhost"
    smtp_starttls: bool = False
    # A listing stays on stage at least this long before another is presented.
    min_present_seconds: float = 3.0
    # Anti-sniping: a bid with this little time left pushes the end to now + this.
    auction_snipe_seconds: float = 10.0
    # The shortest auction and giveaway accepted (the protocol's 5 and 10 s): lowered
    # only by tests, so that a real auction or draw ends within a second or two.
    auction_min_seconds: int = 5
    giveaway_min_seconds: int = 10
    # Limits (docs/protocol-reliability.md): a WHIP/WHEP session not connected this many
    # seconds after its answer is closed; session caps per process, stream, user and
    # anonymous client address; rooms one user may keep open by publishing or watching
    # as host or cohost.
    media_connect_timeout: float = 15.0
    max_media_sessions: int = 500
    max_sessions_per_stream: int = 300
    max_sessions_per_user: int = 8
    max_sessions_per_address: int = 20
    max_rooms_per_user: int = 3
    # Login/register attempts per client address (and login attempts per username)
    # per window; concurrent argon2 computations (each ~64 MiB and a core).
    auth_rate_limit: int = 10
    auth_rate_window: float = 60.0
    auth_user_rate_limit: int = 5
    password_hash_concurrency: int = 1
    # Listings carried by the `join` ack (the newest); the rest page over REST.
    join_listings_limit: int = 50
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed:
    # behind one, per-address limits count the client, not the proxy. Empty: none.
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.min_present_seconds < 0:
            raise ConfigError(f"min_present_seconds must be >= 0, got {self.min_present_seconds}")
        if self.video_width % 2 or self.video_height % 2:
            raise ConfigError("video_width and video_height must be even (the composite halves)")
        if not 0 <= self.socketio_batch_ms <= 1000:
            raise ConfigError(f"socketio_batch_ms must be 0..1000, got {self.socketio_batch_ms}")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format must be 'text' or 'json', got {self.log_format!r}")
        if not 1 <= self.smtp_port <= 65535:
            raise ConfigError(f"smtp_port must be 1..65535, got {self.smtp_port}")
        if "@" not in self.smtp_from or any(c in self.smtp_from for c in "\r\n<>,"):
            raise ConfigError(f"smtp_from must be a plain email address, got {self.smtp_from!r}")
        if self.database_url is not None and not self.database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise ConfigError("database_url must be a postgresql:// URL")
        if self.secret_key is not None and len(self.secret_key) < 16:
            raise ConfigError("secret_key must be at least 16 characters")
        for network in self.trusted_proxies:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(f"trusted_proxies: not a network: {network!r}") from None

    @property
    def resolved_database_path(self) -> Path:
        """The SQLite file: `database_path`, else `data_dir/costream.sqlite3`."""
        return self.database_path or self.data_dir / "costream.sqlite3"

    @property
    def advertised_url(self) -> str:
        """`public_url`, else `http://{host}:{port}`."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def media_config(self) -> MediaConfig:
        """The subset the media engine needs."""
        return MediaConfig(
            connect_timeout=self.media_connect_timeout,
            width=self.video_width,
            height=self.video_height,
            fps=self.video_fps,
            video_bitrate=self.video_bitrate,
            keyframe_interval=self.keyframe_interval,
            ice_servers=self.ice_servers,
            ice_host_addresses=self.ice_host_addresses,
            ice_public_address=self.ice_public_address,
        )


# Annotations are strings under `from __future__ import annotations`; parse by name.
FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in dataclasses.fields(Settings)}


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip().replace("_", ""))
        except ValueError:
            pass
    raise ConfigError(f"{name}: expected an integer, got {value!r}")


def _parse_float(name: str, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{name}: expected a number, got {value!r}")


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _parse_str(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(f"{name}: expected a string, got {value!r}")


def _parse_path(name: str, value: object) -> Path:
    if isinstance(value, (str, Path)) and str(value):
        return Path(value)
    raise ConfigError(f"{name}: expected a path, got {value!r}")


def _parse_str_tuple(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # env form: comma-separated
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{name}: expected a list of strings, got {value!r}")


def _parse_ice_servers(name: str, value: object) -> tuple[IceServer, ...]:
    if isinstance(value, str):  # env form: JSON
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}: invalid JSON ({exc})") from None
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name}: expected a list of {{urls, username?, credential?}}")
    servers = []
    for item in value:
        if isinstance(item, IceServer):
            servers.append(item)
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("urls"), str):
            raise ConfigError(f"{name}: each entry needs a string 'urls', got {item!r}")
        extra = set(item) - {"urls", "username", "credential"}
        if extra:
            raise ConfigError(f"{name}: unknown keys {sorted(extra)} in {item!r}")
        servers.append(
            IceServer(
                urls=item["urls"],
                username=item.get("username"),
                credential=item.get("credential"),
            )
        )
    return tuple(servers)


_PARSERS = {
    "int": _parse_int,
    "float": _parse_float,
    "bool": _parse_bool,
    "str": _parse_str,
    "Path": _parse_path,
    "tuple[str, ...]": _parse_str_tuple,
    "tuple[IceServer, ...]": _parse_ice_servers,
}


def _parse(name: str, value: object) -> object:
    type_name: str = FIELD_TYPES[name]
    optional = type_name.endswith(" | None")
    if optional:
        if value is None or value == "":  # an empty env var means "unset"
            return None
        type_name = type_name.removesuffix(" | None")
    return _PARSERS[type_name](name, value)


def _check_known(keys: Mapping[str, object], where: str) -> None:
    unknown = sorted(set(keys) - set(FIELD_TYPES))
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where}: {', '.join(unknown)}")


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Merge every source into validated Settings; raise ConfigError on anything unknown."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}

    if config_file is None and env.get(CONFIG_ENV):
        config_file = Path(env[CONFIG_ENV])
    if config_file is not None:
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML in {config_file}: {exc}") from None
        _check_known(raw, f"config file {config_file}")
        values.update(raw)

    from_env = {
        key.removeprefix(ENV_PREFIX).lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key != CONFIG_ENV
    }
    _check_known(from_env, "environment (COSTREAM_* variables)")
    values.update(from_env)

    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    _check_known(given, "command-line overrides")
    values.update(given)

    return Settings(**{name: _parse(name, value) for name, value in values.items()})


def load_or_create_secret(data_dir: Path) -> str:
    """Read `data_dir/secret_key`, creating it (0600, 32 random bytes hex) on first run."""
    path = data_dir / "secret_key"
    private_dir(data_dir)
    try:
        # O_EXCL: two processes starting at once must not both write a secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) < 16:
            raise ConfigError(f"{path} is empty or too short; delete it to regenerate") from None
        return secret
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret
