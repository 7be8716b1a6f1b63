"""The checklist's `codes_ready`: green while the host's codes have uses left."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES
from tests.lifecycle.conftest import Users

pytestmark = BOTH_DATABASES


def check(body: dict, check_id: str) -> dict:
    return next(c for c in body["checks"] if c["id"] == check_id)


async def test_a_used_up_code_turns_codes_ready_red(users: Users) -> None:
    stream = await users.show(title="Codes")
    sid = stream["id"]
    checklist = f"/api/streams/{sid}/checklist"
    assert check(await users.ok("GET", checklist, "hostess"), "codes_ready")["ok"] is True
    status, created = await users.call(
        "POST",
        f"/api/streams/{sid}/listings",
        "hostess",
        json={"title": "Scarf", "price_cents": 2000, "quantity": 5},
    )
    assert status == 201
    status, body = await users.call(
        "POST",
        f"/api/streams/{sid}/codes",
        "hostess",
        json={"code": "SPRING", "percent_off": 10, "max_uses": 1},
    )
    assert status in (200, 201), body
    ready = check(await users.ok("GET", checklist, "hostess"), "codes_ready")
    assert ready["ok"] is True and "1 code" in ready["detail"]

    await users.api.start(users.tokens["hostess"], sid)
    status, body = await users.call(
        "POST",
        f"/api/listings/{created['listing']['id']}/buy",
        "bob",
        json={"discount_code": "SPRING"},
    )
    assert status == 201, body
    spent = check(await users.ok("GET", checklist, "hostess"), "codes_ready")
    assert spent["ok"] is False and "SPRING" in spent["detail"]
