"""A small protocol client for tests: real HTTP against a real server."""

from __future__ import annotations

from typing import Any

import aiohttp

DEFAULT_PASSWORD = "secret-pass"


class ApiFailure(AssertionError):
    """A helper call got an unexpected status."""


class Api:
    """REST calls against `base_url`; `request` never raises on HTTP errors."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, body): body is parsed JSON when the answer is JSON, else text, or
        bytes when it is not text."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.base_url + path, json=json, data=data, headers=all_headers, params=params
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            body = await response.read()
            try:
                return response.status, body.decode(response.charset or "utf-8")
            except UnicodeDecodeError:  # an image, a PDF
                return response.status, body

    async def _expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        got, body = await self.request(method, path, **kwargs)
        if got != status:
            raise ApiFailure(f"{method} {path}: expected {status}, got {got}: {body!r}")
        return body

    async def register(
        self, username: str, password: str = DEFAULT_PASSWORD
    ) -> tuple[str, dict[str, Any]]:
        """(token, user) for a new account."""
        body = await self._expect(
            201, "POST", "/api/auth/register", json={"username": username, "password": password}
        )
        return body["token"], body["user"]

    async def login(
        self, username: str, password: str = DEFAULT_PASSWORD
    ) -> tuple[str, dict[str, Any]]:
        body = await self._expect(
            200, "POST", "/api/auth/login", json={"username": username, "password": password}
        )
        return body["token"], body["user"]

    async def create_stream(
        self, token: str, title: str = "Test stream", **fields: Any
    ) -> dict[str, Any]:
        """The created `stream` object; extra fields (description, kind...) pass through."""
        body = await self._expect(
            201, "POST", "/api/streams", token=token, json={"title": title, **fields}
        )
        return body["stream"]

    async def create_listing(self, token: str, stream_id: str, **fields: Any) -> dict[str, Any]:
        """The created `listing` object (fields as POST /api/streams/{id}/listings takes)."""
        body = await self._expect(
            201, "POST", f"/api/streams/{stream_id}/listings", token=token, json=fields
        )
        return body["listing"]

    async def get_stream(self, stream_id: str) -> dict[str, Any]:
        return (await self._expect(200, "GET", f"/api/streams/{stream_id}"))["stream"]

    async def start(self, token: str, stream_id: str) -> dict[str, Any]:
        return (await self._expect(200, "POST", f"/api/streams/{stream_id}/start", token=token))[
            "stream"
        ]

    async def end(self, token: str, stream_id: str) -> dict[str, Any]:
        return (await self._expect(200, "POST", f"/api/streams/{stream_id}/end", token=token))[
            "stream"
        ]
