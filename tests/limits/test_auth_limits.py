"""Login and register are rate-limited per client address and per username (429
`rate_limited` with Retry-After), and argon2 runs on a small dedicated pool."""

from __future__ import annotations

import asyncio
import threading

from server.keys import ACCOUNTS
from tests.helpers.api import DEFAULT_PASSWORD, Api
from tests.server.test_accounts import assert_error


async def login(api: Api, username: str, password: str = DEFAULT_PASSWORD) -> tuple[int, dict]:
    return await api.request(
        "POST", "/api/auth/login", json={"username": username, "password": password}
    )


async def test_attempts_per_address_are_limited(server_factory) -> None:
    server = await server_factory(auth_rate_limit=3, auth_rate_window=60.0)
    async with Api(server.url) as api:
        await api.register("alice")
        assert (await login(api, "alice", "wrong-password"))[0] == 401
        assert (await login(api, "nobody_here"))[0] == 401
        async with api.session.post(
            f"{server.url}/api/auth/login", json={"username": "alice", "password": "x" * 8}
        ) as response:
            assert response.status == 429
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            body = await response.json()
        assert_error(429, body, 429, "rate_limited")
        # Registering counts too, and nothing was created.
        status, body = await api.request(
            "POST", "/api/auth/register", json={"username": "mallory", "password": "p" * 8}
        )
        assert_error(status, body, 429, "rate_limited")
    async with Api(server.url) as api:
        assert (await login(api, "mallory"))[0] == 429


async def forwarded_login(api: Api, forwarded_for: str) -> int:
    async with api.session.post(
        f"{api.base_url}/api/auth/login",
        json={"username": "nobody_here", "password": "x" * 8},
        headers={"X-Forwarded-For": forwarded_for},
    ) as response:
        return response.status


async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(server_factory) -> None:
    server = await server_factory(auth_rate_limit=2, trusted_proxies=("127.0.0.0/8",))
    async with Api(server.url) as api:
        # Two clients behind the proxy (which appends the address it saw) each get
        # their own budget; a forged hop left of it changes nothing.
        for _ in range(2):
            assert await forwarded_login(api, "198.51.100.7") == 401
        assert await forwarded_login(api, "203.0.113.9, 198.51.100.7") == 429
        assert await forwarded_login(api, "203.0.113.9") == 401


async def test_an_untrusted_peer_cannot_pick_its_address(server_factory) -> None:
    server = await server_factory(auth_rate_limit=2)
    async with Api(server.url) as api:
        assert await forwarded_login(api, "198.51.100.1") == 401
        assert await forwarded_login(api, "198.51.100.2") == 401
        assert await forwarded_login(api, "198.51.100.3") == 429


async def test_attempts_per_username_are_limited(server_factory) -> None:
    server = await server_factory(auth_rate_limit=100, auth_user_rate_limit=2)
    async with Api(server.url) as api:
        await api.register("alice")
        await api.register("bob")
        assert (await login(api, "alice", "guess-one"))[0] == 401
        assert (await login(api, "ALICE", "guess-two"))[0] == 401
        # Even the right password waits now: the account is being guessed.
        status, body = await login(api, "alice")
        assert_error(status, body, 429, "rate_limited")
        assert (await login(api, "bob"))[0] == 200


async def test_password_hashing_is_bounded_and_off_the_default_pool(server_factory) -> None:
    server = await server_factory(password_hash_concurrency=1)
    accounts = server.app[ACCOUNTS]
    real = accounts._passwords
    running, peak, threads = 0, 0, set()
    lock = threading.Lock()

    class Probe:
        """The real argon2 hasher, recording how many checks run at once and where."""

        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
                threads.add(threading.current_thread().name)
            try:
                return real.verify(password_hash, password)
            finally:
                with lock:
                    running -= 1

    async with Api(server.url) as api:
        await api.register("alice")
        accounts._passwords = Probe()
        answers = await asyncio.gather(*(login(api, "alice") for _ in range(6)))
        assert [status for status, _ in answers] == [200] * 6
    assert peak == 1
    assert threads and all(name.startswith("password-hash") for name in threads)
