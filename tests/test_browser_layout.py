"""The inbox at desktop and tablet widths: list, thread and composer fit; team chat stays usable (docked
on a wide screen, a drawer on a tablet) and says when something unread waits behind its button."""

from __future__ import annotations

from typing import Any

from tests.browser import (
    DESKTOP,
    TABLETS,
    admin_menu,
    chromium,
    no_horizontal_overflow,
    open_admin_tool,
    post_json,
    signed_in_page,
)
from tests.helpers import PASSWORD


async def _inside(page: Any, selector: str) -> None:
    """The element is on screen, whole: not cut off at the right edge nor pushed below the fold."""
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5, (selector, box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 0.5, (selector, box, size)


async def _general(page: Any) -> int:
    channels = await page.evaluate("() => fetch('/api/v1/chat/channels').then(r => r.json())")
    return int(next(c["id"] for c in channels if c["name"] == "general"))


async def test_desktop_and_tablet_layouts_keep_inbox_and_chat_usable(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        colleague = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        general = await _general(colleague)
        for viewport in (DESKTOP, *TABLETS):
            page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD, viewport=viewport)
            await page.click(f'li[data-conversation="{p.conv_a}"]')
            await page.locator(".thread-head h2").wait_for(timeout=3000)
            for selector in ("ul.conversations", ".thread-head", "form.composer", "form.search"):
                await _inside(page, selector)
            await no_horizontal_overflow(page)
            toggle = page.get_by_test_id("chat-toggle")
            chat = page.get_by_role("complementary", name="Team chat")
            wide = viewport["width"] > 1100
            assert await chat.is_visible() == wide, viewport
            assert await toggle.get_attribute("aria-expanded") == str(wide).lower()

            if not wide:
                # A message while the drawer is shut waits, counted on its button, unread.
                status, _ = await post_json(
                    colleague,
                    f"/api/v1/chat/channels/{general}/messages",
                    {"body": f"ping {viewport['width']}"},
                )
                assert status == 201
                await toggle.filter(has_text="1 unread").wait_for(timeout=3000)
                await toggle.click()
                await chat.wait_for(state="visible", timeout=2000)
                await page.locator("ol.messages .body", has_text=f"ping {viewport['width']}").wait_for(
                    timeout=3000
                )
                assert await page.get_by_role("textbox", name="Chat message").evaluate(
                    "el => el === document.activeElement"
                )
                assert await toggle.inner_text() == "Hide team chat"
            await _inside(page, "aside.chat")
            await _inside(page, "form.chat-composer")
            message = f"from {viewport['width']} wide"
            await page.get_by_role("textbox", name="Chat message").fill(message)
            await page.get_by_role("textbox", name="Chat message").press("Enter")
            await colleague.locator("ol.messages .body", has_text=message).wait_for(timeout=3000)
            await no_horizontal_overflow(page)

            if not wide:
                # Escape shuts the drawer and focus goes back to its button; the thread is usable again.
                await page.keyboard.press("Escape")
                await chat.wait_for(state="hidden", timeout=2000)
                assert await toggle.evaluate("el => el === document.activeElement")
            else:
                await toggle.click()  # a wide screen can put chat away too, giving the thread the room
                await chat.wait_for(state="hidden", timeout=2000)
                await toggle.click()
                await chat.wait_for(state="visible", timeout=2000)

            # The patient record opens beside (or over) the thread and fits on screen.
            await page.get_by_role("button", name="Patient details").click()
            await page.get_by_test_id("patient-record").wait_for(timeout=3000)
            await _inside(page, "aside.contact-panel")
            await page.get_by_role("button", name="Close the patient record").click()

            await page.get_by_label("Channel", exact=True).select_option("note")
            await page.fill("textarea[name=body]", f"note at {viewport['width']}")
            await page.click("form.composer button[type=submit]")
            await page.locator(".timeline .body", has_text=f"note at {viewport['width']}").wait_for(
                timeout=3000
            )
            await no_horizontal_overflow(page)
            assert page.errors == []
            await page.context.close()


FRONT_DESK = {"width": 1366, "height": 768}


async def _header_spread(page: Any) -> float:
    """How far apart (px) the middles of the top bar's visible controls are: small on one row."""
    middles = await page.evaluate(
        """() => [...document.querySelector('header.top').children]
            .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().width > 0)
            .map((el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; })"""
    )
    return float(max(middles) - min(middles))


async def test_top_bar_fits_one_row_at_1366_and_admin_menu_works_by_keyboard(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        staff = await signed_in_page(browser, server.base, p.staff_a, PASSWORD, viewport=FRONT_DESK)
        assert await _header_spread(staff) < 12
        assert await admin_menu(staff).count() == 0  # staff have no admin tools
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD, viewport=FRONT_DESK)
        assert await _header_spread(page) < 12
        await no_horizontal_overflow(page)
        button = admin_menu(page)
        menu = page.get_by_role("menu", name="Admin tools")
        assert await button.get_attribute("aria-haspopup") == "menu"
        assert await button.get_attribute("aria-expanded") == "false"
        assert not await menu.is_visible()

        focused = "el => el === document.activeElement"
        for key in ("Enter", " "):  # Enter and Space open it, on the first tool; Escape shuts it
            await button.focus()
            await page.keyboard.press(key)
            await menu.wait_for(state="visible", timeout=2000)
            assert await button.get_attribute("aria-expanded") == "true"
            assert await menu.get_by_role("menuitem", name="Calendar set-up").evaluate(focused)
            await page.keyboard.press("ArrowDown")
            assert await menu.get_by_role("menuitem", name="Forms").evaluate(focused)
            await page.keyboard.press("Escape")
            await menu.wait_for(state="hidden", timeout=2000)
            assert await button.get_attribute("aria-expanded") == "false"
            assert await button.evaluate(focused)

        # Arrow keys wrap; a chosen tool opens its dialog, and closing it gives focus back to the menu button.
        await page.keyboard.press("Enter")
        await page.keyboard.press("ArrowUp")
        assert await menu.get_by_role("menuitem", name="Import patients").evaluate(focused)
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Import patients from CSV")
        await dialog.wait_for(timeout=2000)
        assert not await menu.is_visible()
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="hidden", timeout=2000)
        assert await button.evaluate(focused)

        # A click elsewhere shuts the menu too.
        await button.click()
        await menu.wait_for(state="visible", timeout=2000)
        await page.locator("ul.conversations").click()
        await menu.wait_for(state="hidden", timeout=2000)
        assert page.errors == []
        await page.context.close()


STRAY_WORDS = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    const stray = /^\\s*(null|undefined|NaN|\\[object Object\\])\\s*$/;
    if (stray.test(text)) found.push(node.parentElement.outerHTML);
  }
  return found;
}"""


async def test_no_tool_prints_null_or_undefined(served_on_port: Any) -> None:
    """A null handed to the DOM's own append() prints as the word; every tool's first screen is free of it."""
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD, viewport=FRONT_DESK)
        assert await page.evaluate(STRAY_WORDS) == []
        for opener, dialog_name in (
            ("Schedule", None),
            ("Payments", None),
            ("Calendar set-up", "admin"),
            ("Forms", "admin"),
            ("Import patients", "admin"),
        ):
            if dialog_name == "admin":
                await open_admin_tool(page, opener)
            else:
                await page.locator("header.top").get_by_role("button", name=opener, exact=True).click()
            dialog = page.locator("dialog[open]").last
            await dialog.wait_for(timeout=3000)
            await page.wait_for_timeout(300)  # its first fetch drawn
            assert await page.evaluate(STRAY_WORDS) == [], opener
            await page.keyboard.press("Escape")
            await dialog.wait_for(state="hidden", timeout=3000)
        await page.locator("header.top").get_by_role("button", name="Reports", exact=True).click()
        await page.locator("section.reports").wait_for(timeout=3000)
        await page.wait_for_timeout(500)
        assert await page.evaluate(STRAY_WORDS) == []
        assert page.errors == []
        await page.context.close()
