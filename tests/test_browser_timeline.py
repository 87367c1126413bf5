"""The thread in the browser: older pages on demand, the snooze choices, and a connection line that
tells the truth after a gap too long to replay."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, post_json, signed_in_page
from tests.helpers import PASSWORD, inbound
from web.keys import SERVICES


async def test_load_older_pages_in_before_the_latest_fifty(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    for n in range(60):
        await inbound(services, p.conv_a, f"message {n}")
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        bodies = page.locator(".timeline .item .body")
        await bodies.nth(49).wait_for(timeout=3000)
        assert await bodies.count() == 50
        assert await bodies.first.inner_text() == "message 10"
        older = page.get_by_role("button", name="Load older messages")
        await older.scroll_into_view_if_needed()
        await older.click()
        await bodies.nth(59).wait_for(timeout=3000)
        assert await bodies.all_text_contents() == [f"message {n}" for n in range(60)]
        assert await older.is_hidden()  # nothing older is left
        # What staff were reading stays in place: the view did not jump to the new top.
        assert await page.evaluate("() => document.querySelector('.scroller').scrollTop") > 0
        # A live item still lands at the end.
        await inbound(services, p.conv_a, "the newest")
        await page.locator(".timeline .item:last-child .body", has_text="the newest").wait_for(timeout=3000)
        assert page.errors == []


async def _snoozed_until(page: Any, conversation: int) -> Any:
    return await page.evaluate(
        f"() => fetch('/api/v1/conversations/{conversation}').then(r => r.json())"
        ".then(c => [c.status, c.snoozed_until && new Date(c.snoozed_until).getTime()])"
    )


async def test_snooze_choices(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        head = page.locator(".thread-head")
        expected = {
            "Until tomorrow morning": """() => { const d = new Date(); d.setDate(d.getDate() + 1);
                d.setHours(8, 0, 0, 0); return d.getTime(); }""",
            "Until next week": """() => { const d = new Date();
                d.setDate(d.getDate() + (((8 - d.getDay()) % 7) || 7));
                d.setHours(8, 0, 0, 0); return d.getTime(); }""",
            "For 1 hour": "() => Date.now() + 3600 * 1000",
        }
        for label, when in expected.items():
            await head.get_by_role("button", name="Snooze").click()
            menu = page.get_by_role("menu", name="Snooze until")
            assert await page.get_by_role("menuitem").first.evaluate("el => el === document.activeElement")
            await menu.get_by_role("menuitem", name=label).click()
            await head.locator(".status", has_text="snoozed until").wait_for(timeout=3000)
            status, until = await _snoozed_until(page, p.conv_a)
            assert status == "snoozed"
            assert abs(until - await page.evaluate(when)) < 60_000, label
            await head.get_by_role("button", name="Reopen").click()
            await head.get_by_role("button", name="Snooze").wait_for(timeout=3000)

        # A chosen time: the past is refused, a future time is taken as the browser's local time.
        await head.get_by_role("button", name="Snooze").click()
        await page.get_by_role("menuitem", name="Until a chosen time…").click()
        picker = page.get_by_label("Snooze until", exact=True).and_(page.locator("input"))
        await picker.fill("2020-01-02T09:30")
        await page.get_by_role("menu").get_by_role("button", name="Snooze", exact=True).click()
        await page.get_by_role("alert").filter(has_text="Choose a time in the future.").wait_for(timeout=2000)
        assert (await _snoozed_until(page, p.conv_a))[0] == "open"
        await picker.fill("2031-01-02T09:30")
        await page.get_by_role("menu").get_by_role("button", name="Snooze", exact=True).click()
        await head.locator(".status", has_text="snoozed until").wait_for(timeout=3000)
        status, until = await _snoozed_until(page, p.conv_a)
        assert (status, until) == (
            "snoozed",
            await page.evaluate("() => new Date(2031, 0, 2, 9, 30).getTime()"),
        )
        # Escape closes the menu and gives focus back to its button.
        await head.get_by_role("button", name="Reopen").click()
        await head.get_by_role("button", name="Snooze").click()
        await page.keyboard.press("Escape")
        assert await page.get_by_role("menu").count() == 0
        assert await head.get_by_role("button", name="Snooze").evaluate("el => el === document.activeElement")
        assert page.errors == []


async def test_after_a_gap_too_long_to_replay_the_line_says_it_reloaded(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        other = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.locator(".thread-head h2").wait_for(timeout=3000)
        await page.evaluate(
            """() => { window.shown = []; const line = document.querySelector('[data-testid=connection]');
                new MutationObserver(() => shown.push(line.textContent))
                    .observe(line, {childList: true, subtree: true, characterData: true}); }"""
        )
        await page.fill("textarea[name=body]", "half-written reply")
        # Cut the socket; pretend it last saw an event the server no longer has (history trimmed).
        await page.evaluate("() => { frontdesk.live.retry = 60000; frontdesk.live.ws.close(); }")
        await page.get_by_test_id("connection").filter(has_text="reconnecting").wait_for(timeout=2000)
        status, _ = await post_json(
            other, f"/api/v1/conversations/{p.conv_a}/notes", {"body": "said while away"}
        )
        assert status == 201
        await page.evaluate("() => { frontdesk.live.lastEventId = 1e9; frontdesk.live.reconnectNow(); }")
        await (
            page.get_by_test_id("connection")
            .filter(has_text="back, reloaded after a long gap")
            .wait_for(timeout=5000)
        )
        await page.locator(".timeline .body", has_text="said while away").wait_for(timeout=3000)
        assert await page.locator("textarea[name=body]").input_value() == "half-written reply"  # kept
        await page.wait_for_timeout(300)  # anything still to come would have come
        shown = await page.evaluate("() => shown")
        assert not any("missed updates" in text for text in shown), shown
        assert page.errors == [] and other.errors == []
