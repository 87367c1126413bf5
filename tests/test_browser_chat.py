"""Team chat and hostile text in the browser: live within a second, and always inert text."""

from __future__ import annotations

import json
from typing import Any

from tests.browser import chromium, signed_in_page
from tests.conftest import testdata as shared_file
from tests.helpers import PASSWORD


def naughty(limit: int = 40) -> list[str]:
    """Strings from the Big List of Naughty Strings, the hostile ones first (markup, scripts, RTL, emoji)."""
    strings = [s for s in json.loads(shared_file("blns.json").read_text()) if s.strip()]
    hostile = [s for s in strings if "<" in s or "script" in s.lower() or "\u202e" in s or "\u200b" in s]
    rest = [s for s in strings if s not in hostile]
    return (hostile + rest)[:limit]


async def test_chat_message_reaches_colleague_live(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        admin = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        north = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        for page in (admin, north):
            await page.locator("ul.channels button", has_text="general").wait_for(timeout=3000)
        await admin.get_by_role("textbox", name="Chat message").fill("Lunch at 1? @nora")
        await admin.get_by_role("textbox", name="Chat message").press("Enter")
        await north.locator("ol.messages .body", has_text="Lunch at 1? @nora").wait_for(timeout=1000)
        await north.get_by_test_id("bell").filter(has_text="1").wait_for(timeout=1000)
        await north.get_by_test_id("bell").click()
        await north.get_by_role("button", name="Ada Admin mentioned you in team chat").click()
        await north.wait_for_function(
            "() => { const bell = document.querySelector('[data-testid=bell]');"
            " return bell.querySelector('.bell-icon') !== null && bell.textContent === ''; }",
            timeout=2000,
        )
        # A direct message: the other person sees the conversation appear with an unread badge.
        await north.get_by_label("Message a colleague").select_option(label="Ada Admin")
        await north.locator("ul.channels button.active", has_text="Ada Admin").wait_for(timeout=2000)
        await north.get_by_role("textbox", name="Chat message").fill("just between us")
        await north.get_by_role("textbox", name="Chat message").press("Enter")
        await (
            admin.locator("ul.channels button", has_text="Nora North")
            .locator(".badge")
            .wait_for(timeout=2000)
        )
        assert admin.errors == [] and north.errors == []


async def test_naughty_strings_render_as_inert_text(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    strings = naughty()
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        csrf = await page.evaluate(
            "() => fetch('/api/v1/session').then(r => r.json()).then(s => s.csrf_token)"
        )
        for body in strings:
            status = await page.evaluate(
                """async ([conv, body, csrf]) => (await fetch(`/api/v1/conversations/${conv}/notes`, {
                    method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                    body: JSON.stringify({body})})).status""",
                [p.conv_a, body, csrf],
            )
            assert status == 201, body
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.locator(".timeline .item.kind-note").nth(len(strings) - 1).wait_for(timeout=5000)
        shown = await page.eval_on_selector_all(
            ".timeline .item.kind-note .body", "els => els.map(e => e.textContent)"
        )
        assert shown == strings
        assert (
            await page.evaluate("() => document.querySelectorAll('body script').length") == 1
        )  # app.js only
        assert page.dialogs == [] and page.errors == []
