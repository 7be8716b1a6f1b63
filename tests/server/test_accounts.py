"""Accounts over real HTTP and real SQLite."""

from __future__ import annotations

import base64
import json
import time

import pytest

from server.auth import TokenService
from server.keys import STORE
from tests.conftest import BOTH_DATABASES
from tests.helpers.api import Api
from tests.helpers.server import RunningServer

pytestmark = BOTH_DATABASES


def assert_error(status: int, body: object, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_register_returns_token_and_user(api: Api) -> None:
    status, body = await api.request(
        "POST", "/api/auth/register", json={"username": "Alice_1", "password": "secret-pass"}
    )
    assert status == 201
    assert body["user"] == {"username": "Alice_1"}
    assert isinstance(body["token"], str) and body["token"]


async def test_login_returns_canonical_username(api: Api) -> None:
    await api.register("Alice")
    status, body = await api.request(
        "POST", "/api/auth/login", json={"username": "alice", "password": "secret-pass"}
    )
    assert status == 200
    assert body["user"] == {"username": "Alice"}
    # The login token works like the registration token.
    stream = await api.create_stream(body["token"])
    assert stream["host"] == "Alice"


async def test_duplicate_username_is_taken_case_insensitively(api: Api) -> None:
    await api.register("bob")
    for name in ("bob", "BOB", "Bob"):
        status, body = await api.request(
            "POST", "/api/auth/register", json={"username": name, "password": "other-pass"}
        )
        assert_error(status, body, 409, "username_taken")
    # The original password still logs in; the failed attempts changed nothing.
    await api.login("bob")


@pytest.mark.parametrize(
    "username", ["ab", "a" * 31, "has space", "dash-name", "émile", "", None, 123]
)
async def test_bad_usernames_are_rejected(api: Api, username: object) -> None:
    status, body = await api.request(
        "POST", "/api/auth/register", json={"username": username, "password": "secret-pass"}
    )
    assert_error(status, body, 400, "invalid_field")


@pytest.mark.parametrize("username", ["abc", "a" * 30, "A_b_9"])
async def test_boundary_usernames_are_accepted(api: Api, username: str) -> None:
    token, user = await api.register(username)
    assert user == {"username": username}


@pytest.mark.parametrize("password", ["short", "x" * 7, "x" * 129, None, 12345678])
async def test_bad_passwords_are_rejected(api: Api, password: object) -> None:
    status, body = await api.request(
        "POST", "/api/auth/register", json={"username": "carol", "password": password}
    )
    assert_error(status, body, 400, "invalid_field")
    # Nothing was created: the name is still free.
    await api.register("carol")


@pytest.mark.parametrize(
    ("username", "password"),
    [("dave", "wrong-password"), ("nobody", "secret-pass"), ("dave", ""), ("d!", "secret-pass")],
)
async def test_bad_credentials(api: Api, username: str, password: str) -> None:
    await api.register("dave")
    status, body = await api.request(
        "POST", "/api/auth/login", json={"username": username, "password": password}
    )
    assert_error(status, body, 401, "invalid_credentials")


async def test_password_is_stored_as_argon2_hash(api: Api, server: RunningServer) -> None:
    await api.register("erin", "plain-text-pass")
    row = await server.app[STORE].fetchone(
        "SELECT password_hash FROM users WHERE username = 'erin'"
    )
    assert row is not None
    stored = row["password_hash"]
    assert stored.startswith("$argon2id$")
    assert "plain-text-pass" not in stored


# -- tokens ------------------------------------------------------------------------------


def _server_tokens(server: RunningServer, clock: float | None = None) -> TokenService:
    """A TokenService with the server's own secret (read from its data dir)."""
    secret = (server.settings.data_dir / "secret_key").read_text().strip()
    if clock is None:
        return TokenService(secret, server.settings.token_ttl_seconds)
    return TokenService(secret, server.settings.token_ttl_seconds, clock=lambda: clock)


async def _create_with(api: Api, authorization: str | None) -> tuple[int, object]:
    headers = {} if authorization is None else {"Authorization": authorization}
    return await api.request("POST", "/api/streams", json={"title": "t"}, headers=headers)


async def test_server_issued_tokens_verify_with_its_secret(api: Api, server: RunningServer) -> None:
    token, _ = await api.register("frank")
    assert _server_tokens(server).verify(token) == "frank"
    forged = _server_tokens(server).issue("frank")
    status, body = await _create_with(api, f"Bearer {forged}")
    assert status == 201 and body["stream"]["host"] == "frank"


async def test_missing_token_is_unauthorized(api: Api) -> None:
    status, body = await _create_with(api, None)
    assert_error(status, body, 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic abc", "Bearer not-a-token", "Bearer a.b", "token", "Bearer ..."],
)
async def test_malformed_tokens_are_invalid(api: Api, authorization: str) -> None:
    status, body = await _create_with(api, authorization)
    assert_error(status, body, 401, "invalid_token")


async def test_tampered_token_is_invalid(api: Api) -> None:
    token, _ = await api.register("grace")
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["u"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{forged}.{signature}", f"{payload}.{signature[:-2]}AA", token + "x"):
        status, body = await _create_with(api, f"Bearer {bad}")
        assert_error(status, body, 401, "invalid_token")


async def test_token_signed_with_another_secret_is_invalid(api: Api) -> None:
    other = TokenService("another-secret-of-enough-length", 3600).issue("heidi")
    status, body = await _create_with(api, f"Bearer {other}")
    assert_error(status, body, 401, "invalid_token")


async def test_expired_token_is_invalid(api: Api, server: RunningServer) -> None:
    await api.register("ivan")
    # Issued long enough ago that its TTL has run out.
    expired = _server_tokens(server, clock=time.time() - server.settings.token_ttl_seconds - 5)
    status, body = await _create_with(api, f"Bearer {expired.issue('ivan')}")
    assert_error(status, body, 401, "invalid_token")


def test_token_expiry_boundary() -> None:
    now = [1000.0]
    tokens = TokenService("x" * 32, ttl_seconds=60, clock=lambda: now[0])
    token = tokens.issue("judy")
    now[0] = 1059.0
    assert tokens.verify(token) == "judy"
    now[0] = 1060.0
    assert tokens.verify(token) is None
