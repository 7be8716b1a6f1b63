"""Profile: a postal address (the host's return address, a buyer's shipping address) and
an email address on each account. Plain text, validated field by field."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Protocol

from server.domain.errors import invalid_field
from server.domain.validation import text_field

# Country: ISO 3166-1 alpha-2. Postal codes: letters, digits, spaces and dashes.
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
POSTAL_CODE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 -]{0,14}[A-Za-z0-9])?$")
# A deliberately plain address (no quoted local parts, comments or display names), so it
# can never carry a header, a second recipient or anything a mail client interprets.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EMAIL_MAX = 254


@dataclass(frozen=True)
class Address:
    """A postal address as printed on a label."""

    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str

    def to_dict(self) -> dict[str, Any]:
        """The protocol's address object."""
        return {name: getattr(self, name) for name in ADDRESS_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Address:
        return cls(**{name: data.get(name) for name in ADDRESS_FIELDS})

    def lines(self) -> list[str]:
        """The address as it is written on a parcel, one line each."""
        place = " ".join(part for part in (self.postal_code, self.city) if part)
        return [
            line
            for line in (self.name, self.line1, self.line2, place, self.region, self.country)
            if line
        ]


ADDRESS_FIELDS = tuple(field.name for field in fields(Address))


def _optional_text(field: str, value: object, max_len: int) -> str | None:
    if value is None:
        return None
    text = text_field(field, value, min_len=0, max_len=max_len)
    return text or None


def parse_address(body: dict[str, Any]) -> Address:
    """An Address from a request body; 400 `invalid_field` naming the first bad field."""
    postal_code = text_field("postal_code", body.get("postal_code"), min_len=1, max_len=16)
    if not POSTAL_CODE_RE.fullmatch(postal_code):
        raise invalid_field("postal_code", "letters, digits, spaces and dashes only")
    country = body.get("country")
    if not isinstance(country, str) or not COUNTRY_RE.fullmatch(country.strip()):
        raise invalid_field("country", "must be a two-letter ISO 3166 country code")
    return Address(
        name=text_field("name", body.get("name"), min_len=1, max_len=100),
        line1=text_field("line1", body.get("line1"), min_len=1, max_len=200),
        line2=_optional_text("line2", body.get("line2"), 200),
        city=text_field("city", body.get("city"), min_len=1, max_len=100),
        region=_optional_text("region", body.get("region"), 100),
        postal_code=postal_code,
        country=country.strip().upper(),
    )


def parse_email(value: object) -> str:
    """A plain mailbox address (`name@example.com`); 400 `invalid_field` otherwise."""
    email = text_field("email", value, min_len=3, max_len=EMAIL_MAX)
    if not EMAIL_RE.fullmatch(email):
        raise invalid_field("email", "must be an address like name@example.com")
    return email


class ProfileStore(Protocol):
    """What profiles need from storage."""

    async def save_address(self, username: str, address: Address) -> None: ...

    async def address(self, username: str) -> Address | None: ...

    async def save_email(self, username: str, email: str) -> None: ...

    async def email(self, username: str) -> str | None: ...

    async def hosted_stream_ids(self, username: str) -> list[str]:
        """The streams `username` hosts, newest first."""
        ...


class ProfileService:
    """Read and change the signed-in user's address and email."""

    def __init__(self, store: ProfileStore) -> None:
        self._store = store

    async def set_address(self, user: str, body: dict[str, Any]) -> Address:
        address = parse_address(body)
        await self._store.save_address(user, address)
        return address

    async def address(self, user: str) -> Address | None:
        return await self._store.address(user)

    async def set_email(self, user: str, value: object) -> str:
        email = parse_email(value)
        await self._store.save_email(user, email)
        return email

    async def email(self, user: str) -> str | None:
        return await self._store.email(user)

    async def hosted_stream_ids(self, user: str) -> list[str]:
        return await self._store.hosted_stream_ids(user)

    async def profile(self, user: str) -> dict[str, Any]:
        """`{"user": {"username", "email"}, "address"}` for the profile page."""
        address = await self._store.address(user)
        return {
            "user": {"username": user, "email": await self._store.email(user)},
            "address": None if address is None else address.to_dict(),
        }
