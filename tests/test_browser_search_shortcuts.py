"""Search and keyboard shortcuts in the browser: results open the thread, nothing typed reaches a URL,
and the shortcuts move, reply, note, close and help, but never fire while staff type."""

from __future__ import annotations

from typing import Any

from tests.browser import chromium, signed_in_page
from tests.helpers import PASSWORD, inbound, new_conversation
from web.keys import SERVICES


async def _seed(server: Any) -> tuple[int, int]:
    services = server.app[SERVICES]
    p = server.practice
    zelda = await new_conversation(services, p.practice_id, p.loc_a, "Zelda Quince", "+12025550181")
    await inbound(services, zelda, "my crown fell off yesterday")
    omar = await new_conversation(services, p.practice_id, p.loc_a, "Omar Fenwick", "+12025550182")
    await inbound(services, omar, "running late")
    return zelda, omar


async def current(page: Any) -> Any:
    return await page.evaluate("() => frontdesk.inbox.current")


async def test_search_opens_threads_without_putting_the_query_in_urls(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    zelda, _ = await _seed(server)
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        await page.keyboard.press("/")
        box = page.get_by_role("searchbox", name="Search patients and messages")
        assert await box.evaluate("el => el === document.activeElement")
        await box.fill("quince")
        patients = page.get_by_role("region", name="Search results").get_by_role("region", name="Patients")
        await patients.get_by_role("button", name="Zelda Quince").click()
        await page.locator(".thread-head h2", has_text="Zelda Quince").wait_for(timeout=3000)
        assert await current(page) == zelda
        assert await page.get_by_role("region", name="Search results").is_hidden()

        # A message's words find it; the keyboard reaches the result and opens it.
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        await page.locator(".thread-head h2", has_text="Pat Patient0").wait_for(timeout=3000)
        await box.fill("crown fell")
        messages = page.get_by_role("region", name="Messages")
        await messages.get_by_role("button", name="Zelda Quince").wait_for(timeout=3000)
        assert "my crown fell off yesterday" in await messages.inner_text()
        await box.press("ArrowDown")  # no patient is called that: the first result is the message
        await page.keyboard.press("Enter")
        await page.locator(".thread-head h2", has_text="Zelda Quince").wait_for(timeout=3000)

        # Nothing found says so; Escape closes the results.
        await box.fill("nobody-by-this-name")
        await (
            page.get_by_role("region", name="Patients").filter(has_text="None found.").wait_for(timeout=3000)
        )
        await box.press("Escape")
        assert await page.get_by_role("region", name="Search results").is_hidden()

        for url in urls:
            for typed in ("quince", "crown", "nobody"):
                assert typed not in url.lower(), url
        assert page.errors == [] and page.dialogs == []


async def test_keyboard_shortcuts_and_their_help(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    await _seed(server)
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.locator("li[data-conversation]").nth(2).wait_for(timeout=3000)
        order = await page.evaluate("() => frontdesk.inbox.list.order")
        assert len(order) == 3

        await page.keyboard.press("j")
        await page.wait_for_function(f"() => frontdesk.inbox.current === {order[0]}", timeout=3000)
        await page.keyboard.press("j")
        await page.wait_for_function(f"() => frontdesk.inbox.current === {order[1]}", timeout=3000)
        await page.locator(f'li[data-conversation="{order[1]}"][aria-selected="true"]').wait_for(timeout=3000)
        await page.keyboard.press("k")
        await page.wait_for_function(f"() => frontdesk.inbox.current === {order[0]}", timeout=3000)
        await page.locator(f'section.thread[data-conversation="{order[0]}"]').wait_for(timeout=3000)

        # n: a note, focused; typing there never triggers a shortcut.
        await page.keyboard.press("n")
        composer = page.locator("textarea[name=body]")
        await page.wait_for_function("() => document.activeElement.name === 'body'", timeout=3000)
        assert await page.get_by_label("Channel", exact=True).input_value() == "note"
        await page.keyboard.type("jkj e/ ?")
        assert await composer.input_value() == "jkj e/ ?"
        assert await current(page) == order[0]
        assert await page.get_by_test_id("shortcut-help").count() == 0

        # r: back to texting the patient.
        await composer.fill("")
        await page.evaluate("() => document.activeElement.blur()")
        await page.keyboard.press("r")
        await page.wait_for_function("() => document.activeElement.name === 'body'", timeout=3000)
        assert await page.get_by_label("Channel", exact=True).input_value() == "sms"

        # Typing in the team chat field does not move either.
        chat = page.get_by_role("textbox", name="Chat message")
        await chat.fill("")
        await chat.type("jjjj")
        assert await current(page) == order[0]

        # ?: the help overlay lists every shortcut, and Escape closes it (focus comes back).
        await page.evaluate("() => document.activeElement.blur()")
        await page.keyboard.press("?")
        help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        await help_dialog.wait_for(timeout=2000)
        text = await help_dialog.inner_text()
        for words in (
            "Next conversation",
            "Previous conversation",
            "Reply",
            "internal note",
            "Close",
            "Search",
        ):
            assert words in text, words
        await page.keyboard.press("j")  # shortcuts sleep while a dialog is open
        assert await current(page) == order[0]
        await page.keyboard.press("Escape")
        await help_dialog.wait_for(state="detached", timeout=2000)

        # e: close the conversation; it leaves the Open list.
        await page.keyboard.press("e")
        await page.locator(f'li[data-conversation="{order[0]}"]').wait_for(state="detached", timeout=3000)
        await page.locator(".thread-head .status", has_text="closed").wait_for(timeout=3000)

        # A modifier held is the browser's shortcut, not ours.
        await page.keyboard.press("Control+j")
        assert await current(page) == order[0]
        assert page.errors == [] and page.dialogs == []
