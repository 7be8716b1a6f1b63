"""Field validation shared by every domain service: one rule for text, integers, money.

User text is plain text: control characters (other than newline and tab where a
field may span lines) and the bidi embedding/override/isolate controls are refused,
because they render as fake lines or reversed text in other people's pages.
"""

from __future__ import annotations

import re

from server.domain.errors import invalid_field

# No amount above this is accepted anywhere (PROTOCOL.md v2): 1 000 000.00 in cents.
MONEY_MAX_CENTS = 100_000_000

# C0 and C1 controls, DEL; U+202A-U+202E, U+2066-U+2069 (bidi embeddings, overrides
# and isolates); lone surrogates (JSON's "\\ud800" decodes to one, and it cannot be
# stored or sent as UTF-8). Line and paragraph separators count as line breaks.
_ONE_LINE_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
_MULTI_LINE_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)


# Every id the server makes is token_urlsafe: anything else names nothing (and never a
# directory, a Redis key or a database row).
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def id_field(field: str, value: object, what: str) -> str:
    """An id of the server's making (SAFE_ID); 400 `invalid_field` otherwise."""
    if not isinstance(value, str) or not SAFE_ID.match(value):
        raise invalid_field(field, f"must be {what}")
    return value


def text_field(
    field: str, value: object, *, min_len: int, max_len: int, multiline: bool = False
) -> str:
    """A stripped string of min_len..max_len characters with no control or bidi-override
    characters; newlines and tabs only where `multiline`."""
    if not isinstance(value, str):
        raise invalid_field(field, "must be a string")
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        raise invalid_field(field, f"must be {min_len}-{max_len} characters")
    forbidden = _MULTI_LINE_FORBIDDEN if multiline else _ONE_LINE_FORBIDDEN
    if forbidden.search(value):
        what = "control" if multiline else "line-break or control"
        raise invalid_field(field, f"must be plain text without {what} characters")
    return value


def int_field(field: str, value: object, *, low: int, high: int | None = None) -> int:
    """An integer (JSON booleans are not numbers here) in low..high."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_field(field, "must be an integer")
    if value < low or (high is not None and value > high):
        limit = f"{low}-{high}" if high is not None else f"at least {low}"
        raise invalid_field(field, f"must be {limit}")
    return value


def money_field(field: str, value: object, *, low: int = 0) -> int:
    """An amount in integer cents, low..MONEY_MAX_CENTS."""
    return int_field(field, value, low=low, high=MONEY_MAX_CENTS)


def order_total(field: str, unit_cents: int, quantity: int) -> int:
    """`unit_cents * quantity`, refused (400 on `field`) above MONEY_MAX_CENTS: no order
    may carry more money than any single amount may."""
    total = unit_cents * quantity
    if total > MONEY_MAX_CENTS:
        raise invalid_field(field, f"the total would exceed {MONEY_MAX_CENTS} cents")
    return total
