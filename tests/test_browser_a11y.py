"""Accessibility and hostile text in the browser: every control has a name (as Chromium's accessibility
tree computes it), focus is always visible, naughty strings posted as team chat come back byte-identical
and inert, and a 10,000-character line without spaces wraps instead of breaking the layout."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, no_horizontal_overflow, open_admin_tool, post_json, signed_in_page
from tests.helpers import PASSWORD
from tests.test_browser_chat import naughty

CONTROLS = {
    "button", "textbox", "searchbox", "combobox", "checkbox", "radio", "link", "tab", "menuitem",
    "option", "listbox", "spinbutton", "slider", "switch",
}  # fmt: skip


async def unnamed_controls(page: Any) -> list[str]:
    """Controls Chromium exposes without an accessible name (what a screen reader would announce)."""
    cdp = await page.context.new_cdp_session(page)
    tree = await cdp.send("Accessibility.getFullAXTree")
    missing = []
    for node in tree["nodes"]:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in CONTROLS:
            continue
        name = ((node.get("name") or {}).get("value") or "").strip()
        if not name:
            missing.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    await cdp.detach()
    return missing


async def test_every_control_is_named_and_focus_is_visible(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.locator(".thread-head h2").wait_for(timeout=3000)
        assert await unnamed_controls(page) == []

        # The panels and menus that open on demand are named too.
        await page.get_by_role("button", name="Patient details").click()
        await page.get_by_role("button", name="Edit record").click()
        await page.get_by_role("button", name="Add a phone").click()
        await page.get_by_role("button", name="Snooze").click()
        await page.get_by_role("menu", name="Snooze until").wait_for(timeout=2000)
        assert await unnamed_controls(page) == []
        await page.get_by_role("searchbox", name="Search patients and messages").fill("pat")
        await page.get_by_role("region", name="Patients").wait_for(timeout=3000)
        assert await unnamed_controls(page) == []
        await page.keyboard.press("Escape")
        await open_admin_tool(page, "Import patients")
        await page.get_by_role("dialog", name="Import patients from CSV").wait_for(timeout=2000)
        assert await unnamed_controls(page) == []
        await page.keyboard.press("Escape")

        # Tab through the page: whatever has focus shows a clear ring.
        await page.evaluate("() => document.activeElement && document.activeElement.blur()")
        seen = 0
        for _ in range(40):
            await page.keyboard.press("Tab")
            ring = await page.evaluate(
                """() => { const el = document.activeElement; if (!el || el === document.body) return null;
                    const s = getComputedStyle(el);
                    return [el.tagName + (el.getAttribute('aria-label') || el.textContent || '').slice(0, 30),
                            s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
            )
            if ring is None:
                continue
            seen += 1
            _, style, width = ring
            assert style != "none" and width >= 2, ring
        assert seen >= 30
        assert page.errors == []


async def test_naughty_chat_and_a_very_long_line_render_inert_and_wrap(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    strings = naughty()
    long_line = "x" * 10_000
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        channels = await page.evaluate("() => fetch('/api/v1/chat/channels').then(r => r.json())")
        general = next(c["id"] for c in channels if c["name"] == "general")
        for body in [*strings, long_line]:
            status, _ = await post_json(page, f"/api/v1/chat/channels/{general}/messages", {"body": body})
            assert status == 201, body
        status, _ = await post_json(page, f"/api/v1/conversations/{p.conv_a}/notes", {"body": long_line})
        assert status == 201
        await page.locator("ol.messages .message").nth(len(strings)).wait_for(timeout=5000)
        shown = await page.eval_on_selector_all("ol.messages .body", "els => els.map(e => e.textContent)")
        assert shown == [*strings, long_line]
        assert await page.evaluate("() => document.querySelectorAll('script').length") == 1  # app.js only
        assert page.dialogs == []

        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.locator(".timeline .item.kind-note .body").wait_for(timeout=3000)
        assert await page.locator(".timeline .item.kind-note .body").text_content() == long_line
        await no_horizontal_overflow(page)
        # Each long line stays inside its own column: wrapped, not overflowing it.
        fits = await page.evaluate(
            """() => [...document.querySelectorAll('.timeline .body, ol.messages .body')]
                .filter(b => b.textContent.length === 10000)
                .map(b => { const column = b.closest('.scroller, ol.messages').getBoundingClientRect();
                            const box = b.getBoundingClientRect();
                            return [box.left >= column.left - 1 && box.right <= column.right + 1,
                                    b.scrollWidth <= b.clientWidth + 1, box.height > 100]; })"""
        )
        assert fits == [[True, True, True], [True, True, True]], fits
        # The thread's composer and the chat box are still where staff can use them.
        for selector in ("form.composer", "form.chat-composer"):
            box = await page.locator(selector).bounding_box()
            assert box is not None and box["y"] + box["height"] <= 800 + 0.5, (selector, box)
        assert page.errors == []
