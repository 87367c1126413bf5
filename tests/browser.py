"""Debian's Chromium driven by Playwright, for tests of the staff UI in a real browser."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.conftest import need_service

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium; skips outside CI when it is not installed, fails under CI=true."""
    if shutil.which(CHROMIUM) is None:
        need_service("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


DESKTOP = {"width": 1280, "height": 800}
TABLETS = ({"width": 820, "height": 1180}, {"width": 1024, "height": 768})


async def signed_in_page(
    browser: Any, base: str, email: str, password: str, viewport: dict[str, int] | None = None
) -> Any:
    """A fresh browser context (its own cookies) signed in through the login form."""
    context = await browser.new_context(viewport=viewport or DESKTOP)
    page = await context.new_page()
    dialogs: list[str] = []
    page.dialogs = dialogs  # a script that ran would show up here (alert/confirm/prompt)

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    errors: list[str] = []
    page.errors = errors  # uncaught script errors: a test can assert there were none
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base + "/")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    # Generous: several browsers and servers share two cores while the suite runs.
    await page.get_by_test_id("connection").filter(has_text="live").wait_for(timeout=15000)
    return page


async def csrf_token(page: Any) -> str:
    """The signed-in page's CSRF token, for tests that post through the page's own session."""
    return str(
        await page.evaluate("() => fetch('/api/v1/session').then(r => r.json()).then(s => s.csrf_token)")
    )


async def post_json(page: Any, path: str, body: Any) -> tuple[int, Any]:
    """POST JSON from inside the page (its cookies and CSRF token), as the UI itself would."""
    token = await csrf_token(page)
    result = await page.evaluate(
        """async ([path, body, csrf]) => {
            const res = await fetch(path, {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}});
            return [res.status, res.status === 204 ? null : await res.json()];
        }""",
        [path, body, token],
    )
    return int(result[0]), result[1]


async def no_horizontal_overflow(page: Any) -> None:
    """The page never scrolls sideways: nothing is wider than the viewport."""
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(widths[0], widths[1]) <= widths[2], widths


def admin_menu(page: Any) -> Any:
    """The top bar's Admin menu button (administrators only), behind which the admin tools sit."""
    return page.get_by_role("button", name="Admin", exact=True)


async def open_admin_tool(page: Any, name: str) -> None:
    """Open one of the admin tools (Calendar set-up, Forms, Import patients) through the Admin menu."""
    await admin_menu(page).click()
    await page.get_by_role("menu", name="Admin tools").get_by_role("menuitem", name=name, exact=True).click()
