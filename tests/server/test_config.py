"""Settings precedence and validation, the generated secret, and the `costream` CLI."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from media.config import IceServer, MediaConfig
from server.config import ConfigError, Settings, load_or_create_secret, load_settings
from tests.helpers.api import Api

COSTREAM = Path(sys.executable).parent / "costream"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings({}, None, {})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8080, Path("data"))
    assert settings.resolved_database_path == Path("data/costream.sqlite3")
    assert settings.redis_url is None and settings.secret_key is None
    assert settings.ice_servers == () and settings.ice_host_addresses == ("127.0.0.1",)
    assert settings.max_body_bytes == 64 * 1024


def test_precedence_file_then_env_then_overrides(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        'host = "0.0.0.0"\nport = 9000\nchat_history = 50\nvideo_fps = 25\n',
    )
    env = {"COSTREAM_PORT": "9100", "COSTREAM_CHAT_HISTORY": "60", "PATH": "/bin"}
    settings = load_settings(env, config, {"port": 9200, "host": None})
    assert settings.host == "0.0.0.0"  # file (override None = not given)
    assert settings.video_fps == 25  # file
    assert settings.chat_history == 60  # env beats file
    assert settings.port == 9200  # CLI beats env


def test_config_file_from_env(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "invite_ttl_seconds = 30\n")
    settings = load_settings({"COSTREAM_CONFIG": str(config)}, None, {})
    assert settings.invite_ttl_seconds == 30


def test_typed_parsing_from_env() -> None:
    env = {
        "COSTREAM_DATA_DIR": "/tmp/cs",
        "COSTREAM_DATABASE_PATH": "/tmp/other.db",
        "COSTREAM_KEYFRAME_INTERVAL": "1.5",
        "COSTREAM_ICE_HOST_ADDRESSES": "127.0.0.1, 10.0.0.2",
        "COSTREAM_ICE_SERVERS": '[{"urls": "stun:127.0.0.1:3478"},'
        ' {"urls": "turn:127.0.0.1", "username": "u", "credential": "c"}]',
        "COSTREAM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "COSTREAM_DATABASE_URL": "postgresql://costream@127.0.0.1:5432/costream",
        "COSTREAM_ICE_PUBLIC_ADDRESS": "",
    }
    settings = load_settings(env, None, {})
    assert settings.database_url == "postgresql://costream@127.0.0.1:5432/costream"
    assert settings.data_dir == Path("/tmp/cs")
    assert settings.resolved_database_path == Path("/tmp/other.db")
    assert settings.keyframe_interval == 1.5
    assert settings.ice_host_addresses == ("127.0.0.1", "10.0.0.2")
    assert settings.ice_servers == (
        IceServer("stun:127.0.0.1:3478"),
        IceServer("turn:127.0.0.1", "u", "c"),
    )
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.ice_public_address is None


def test_typed_parsing_from_toml(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        'ice_host_addresses = ["127.0.0.1"]\n'
        'ice_servers = [{urls = "stun:127.0.0.1:3478"}]\n'
        "chat_rate_window = 2\n",
    )
    settings = load_settings({}, config, {})
    assert settings.ice_servers == (IceServer("stun:127.0.0.1:3478"),)
    assert settings.chat_rate_window == 2.0


def test_media_config_mapping() -> None:
    settings = Settings(
        video_width=640,
        video_height=360,
        video_fps=15,
        video_bitrate=500_000,
        keyframe_interval=1.0,
        ice_servers=(IceServer("stun:127.0.0.1"),),
        ice_host_addresses=("127.0.0.1",),
        ice_public_address="192.0.2.1",
    )
    assert settings.media_config() == MediaConfig(
        width=640,
        height=360,
        fps=15,
        video_bitrate=500_000,
        keyframe_interval=1.0,
        ice_servers=(IceServer("stun:127.0.0.1"),),
        ice_host_addresses=("127.0.0.1",),
        ice_public_address="192.0.2.1",
    )


@pytest.mark.parametrize(
    ("env", "toml", "message"),
    [
        ({"COSTREAM_PROT": "1"}, "", "prot"),
        ({}, "bogus = 1\n", "bogus"),
        ({"COSTREAM_PORT": "eighty"}, "", "port"),
        ({"COSTREAM_PORT": "70000"}, "", "port"),
        ({}, 'port = "80"\nvideo_fps = true\n', "video_fps"),
        ({"COSTREAM_VIDEO_FPS": "0"}, "", "video_fps"),
        ({"COSTREAM_VIDEO_WIDTH": "641"}, "", "even"),
        ({"COSTREAM_ICE_SERVERS": "[not json"}, "", "ice_servers"),
        ({"COSTREAM_ICE_SERVERS": '[{"url": "stun:x"}]'}, "", "urls"),
        ({"COSTREAM_SECRET_KEY": "short"}, "", "secret_key"),
        ({"COSTREAM_DATABASE_URL": "mysql://db/costream"}, "", "database_url"),
        ({}, "port = [", "TOML"),
    ],
)
def test_bad_config_is_an_error(tmp_path: Path, env: dict, toml: str, message: str) -> None:
    config = write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(env, config, {})


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        load_settings({}, None, {"nope": 1})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, tmp_path / "missing.toml", {})


# -- the secret --------------------------------------------------------------------------


async def test_secret_is_generated_private_and_reused(server_factory, settings_factory) -> None:
    settings = settings_factory()
    first = await server_factory(settings)
    secret_file = settings.data_dir / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) == 64 and int(secret, 16) >= 0  # 32 random bytes, hex
    async with Api(first.url) as api:
        token, _ = await api.register("keeper")
    await first.stop()

    second = await server_factory(settings)
    assert secret_file.read_text().strip() == secret
    async with Api(second.url) as api:  # tokens survive the restart
        stream = await api.create_stream(token)
        assert stream["host"] == "keeper"


async def test_configured_secret_writes_no_file(server_factory, settings_factory) -> None:
    settings = settings_factory(secret_key="s" * 32)
    running = await server_factory(settings)
    assert not (settings.data_dir / "secret_key").exists()
    async with Api(running.url) as api:
        await api.register("keeper2")


def test_distinct_data_dirs_get_distinct_secrets(tmp_path: Path) -> None:
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


# -- the CLI -----------------------------------------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTREAM_")}
    return {**env, **extra}


async def _wait_healthy(proc: subprocess.Popen[bytes], url: str) -> dict:
    """Poll an external process's /healthz until it answers, for at most 30 s.

    Bounded generously: importing aiortc/PyAV takes seconds on a loaded CI machine.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"costream exited with {proc.returncode}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    return {"status": response.status, "body": await response.json()}
            except (aiohttp.ClientConnectionError, TimeoutError):
                await asyncio.sleep(0.1)  # the process is still starting
    raise AssertionError("costream did not answer /healthz within 30 s")


@pytest.mark.slow
async def test_cli_serves_healthz(tmp_path: Path, free_port: int) -> None:
    data_dir = tmp_path / "cli-data"
    proc = subprocess.Popen(
        [str(COSTREAM), "serve", "--port", str(free_port), "--data-dir", str(data_dir)],
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = await _wait_healthy(proc, f"http://127.0.0.1:{free_port}/healthz")
        assert answer == {"status": 200, "body": {"ok": True}}
        assert (data_dir / "secret_key").exists()
        assert (data_dir / "costream.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("how", ["file", "env"])
def test_cli_exits_2_on_unknown_key(tmp_path: Path, how: str) -> None:
    config = write(tmp_path / "c.toml", "colour = 'blue'\n")
    args = [str(COSTREAM), "serve", "--data-dir", str(tmp_path / "d")]
    env = _clean_env()
    if how == "file":
        args += ["--config", str(config)]
    else:
        env["COSTREAM_COLOUR"] = "blue"
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "colour" in result.stderr and "unknown setting" in result.stderr
    assert not (tmp_path / "d").exists()  # refused before touching anything


def test_python_dash_m_server_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "serve" in result.stdout
