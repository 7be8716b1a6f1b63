"""The home page: sign up inline, create a show, land in its studio."""

from __future__ import annotations

import pytest

from tests.helpers.browser import chromium, screenshot

pytestmark = pytest.mark.browser


async def test_sign_up_and_create_a_show_opens_its_studio(server, tmp_path) -> None:
    async with chromium(server.url, tmp_path / "carol") as carol:
        page = await carol.open("/")
        await page.click("#home-auth-toggle")
        await page.fill("#home-auth-username", "carol")
        await page.fill("#home-auth-password", "pw-123456")
        await page.click("#home-auth-submit")
        await page.fill("#show-title", "Sneaker Sunday")
        await page.fill("#show-description", "Rare kicks, fair prices.")
        await screenshot(page, "home-create-show-desktop")
        await page.click("#create-form button[type=submit]")
        await page.wait_for_url("**/studio/**")
        await page.wait_for_selector("#golive:not([disabled])")
        assert await page.text_content("#title") == "Sneaker Sunday"
        assert await page.text_content("#status") == "Offline"
