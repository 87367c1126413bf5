"""The patient record beside the thread, in the browser: view and edit, "who wrote this?" for a shared
number, merging a duplicate found by search, and the CSV import with its report of rejected rows."""

from __future__ import annotations

import secrets
from typing import Any

from comms import messaging
from comms.contacts import create_contact
from schemas.twilio import InboundSms
from tests.browser import admin_menu, chromium, open_admin_tool, post_json, signed_in_page
from tests.helpers import PASSWORD, inbound, new_conversation
from web.keys import SERVICES

NORTH = "+12025550143"  # the North location's number in seed_practice
FAMILY = "+16175550100"


async def text_in(services: Any, from_number: str, body: str) -> int:
    """An inbound text to North as the Twilio webhook would deliver it."""
    received = await messaging.receive_sms(
        services,
        InboundSms(
            message_sid="SM" + secrets.token_hex(16),
            account_sid="AC" + secrets.token_hex(16),
            from_number=from_number,
            to_number=NORTH,
            body=body,
        ),
    )
    assert received.item_id is not None
    return received.item_id


async def test_patient_record_view_edit_and_the_channels_it_allows(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.click(f'li[data-conversation="{p.conv_a}"]')
        channel = page.get_by_label("Channel", exact=True)
        await channel.wait_for(timeout=3000)
        # No address on file: e-mail cannot be chosen, texting can.
        assert await page.locator("select[name=channel] option[value=email]").is_disabled()
        assert await page.locator("select[name=channel] option[value=sms]").is_enabled()

        toggle = page.get_by_role("button", name="Patient details")
        await toggle.click()
        panel = page.get_by_role("complementary", name="Patient record")
        record = panel.get_by_test_id("patient-record")
        await record.wait_for(timeout=3000)
        assert "+12025550170" in await record.inner_text()
        assert "null" not in await panel.inner_text() and "undefined" not in await panel.inner_text()
        assert await page.get_by_role("button", name="Hide patient").get_attribute("aria-expanded") == "true"

        await panel.get_by_role("button", name="Edit record").click()
        await panel.get_by_label("First name").fill("Patricia")
        await panel.get_by_label("Date of birth").fill("1980-04-02")
        await panel.get_by_role("button", name="Add an e-mail").click()
        await panel.get_by_role("textbox", name="E-mail address", exact=True).fill("pat@example.com")
        await panel.get_by_role("button", name="Add a phone").click()
        await panel.get_by_role("textbox", name="Phone number", exact=True).nth(1).fill("(202) 555-0199")
        await panel.get_by_role("combobox", name="Phone type").nth(1).select_option("home")
        await panel.get_by_role("button", name="Save").click()
        await record.filter(has_text="pat@example.com").wait_for(timeout=3000)
        shown = await record.inner_text()
        assert "April 2, 1980" in shown and "+12025550199" in shown and "(home)" in shown
        await page.locator(".thread-head h2", has_text="Patricia Patient0").wait_for(timeout=3000)
        await page.locator(f'li[data-conversation="{p.conv_a}"] .name', has_text="Patricia").wait_for(
            timeout=3000
        )
        # Now the patient has an address, e-mail is offered.
        await page.wait_for_function(
            "() => !document.querySelector('select[name=channel] option[value=email]').disabled", timeout=3000
        )

        # A bad number is refused with the server's words and nothing changes.
        await panel.get_by_role("button", name="Edit record").click()
        await panel.get_by_role("textbox", name="Phone number", exact=True).nth(0).fill("12")
        await panel.get_by_role("button", name="Save").click()
        await panel.get_by_role("alert").filter(has_text="phone").wait_for(timeout=3000)
        await panel.get_by_role("button", name="Cancel").click()
        assert "+12025550170" in await record.inner_text()

        # Without any phone, texting is off and says why.
        await panel.get_by_role("button", name="Edit record").click()
        for _ in range(2):
            await panel.get_by_role("button", name="Remove this phone number").first.click()
        await panel.get_by_role("button", name="Save").click()
        await page.wait_for_function(
            "() => document.querySelector('select[name=channel] option[value=sms]').disabled", timeout=3000
        )
        assert "no phone number" in await page.locator("select[name=channel] option[value=sms]").inner_text()
        assert "+1202555" not in await record.inner_text()
        assert await channel.input_value() == "note"
        await page.keyboard.press("Escape")
        await panel.get_by_role("button", name="Close the patient record").click()
        assert await panel.is_hidden()
        assert page.errors == [] and page.dialogs == []


async def test_who_wrote_this_moves_the_text_to_the_chosen_family_member(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    maria = await create_contact(services, p.practice_id, "Maria", "Garcia", ["(617) 555-0100"])
    await create_contact(services, p.practice_id, "Luis", "Garcia", ["617-555-0100"])
    first = await text_in(services, FAMILY, "Is my appointment tomorrow?")
    second = await text_in(services, FAMILY, "It's Luis by the way")
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        colleague = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        maria_row = page.locator("li[data-conversation]", has_text="Maria Garcia")
        await maria_row.click()
        await colleague.locator("li[data-conversation]", has_text="Maria Garcia").click()
        item = page.locator(f'.timeline [data-item="{first}"]')
        await item.wait_for(timeout=3000)
        await colleague.locator(f'.timeline [data-item="{first}"]').wait_for(timeout=3000)

        await item.get_by_role("button", name="Who wrote this?").click()
        chooser = item.get_by_role("group", name="Several patients share this number. Who wrote this?")
        await chooser.get_by_label("Luis Garcia").wait_for(timeout=3000)
        assert await chooser.get_by_label("Maria Garcia (this thread)").is_checked()
        await chooser.get_by_label("Luis Garcia").check()
        await item.get_by_label("Also move their later texts from this number").check()
        await item.get_by_role("button", name="Move to this patient").click()

        # Both texts leave Maria's thread, here and for the colleague looking at it.
        for viewer in (page, colleague):
            for item_id in (first, second):
                await viewer.locator(f'.timeline [data-item="{item_id}"]').wait_for(
                    state="detached", timeout=3000
                )
        luis_row = page.locator("li[data-conversation]", has_text="Luis Garcia")
        await luis_row.click()
        await page.locator(".thread-head h2", has_text="Luis Garcia").wait_for(timeout=3000)
        bodies = await page.locator(".timeline .item.in .body").all_text_contents()
        assert bodies == ["Is my appointment tomorrow?", "It's Luis by the way"]
        assert maria != await page.evaluate("() => frontdesk.inbox.thread.summary.contact.id")
        assert page.errors == [] and colleague.errors == [] and page.dialogs == []


async def test_merge_a_duplicate_found_by_search_after_confirming(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    services = server.app[SERVICES]
    await text_in(services, "+12025550190", "hello, new phone")  # an unknown sender
    rosa_thread = await new_conversation(services, p.practice_id, p.loc_a, "Rosa Diaz", "+12025550191")
    await inbound(services, rosa_thread, "it's Rosa from my old number")
    # A record that never wrote (imported): only the contacts search finds it.
    await create_contact(services, p.practice_id, "Rosalind", "Park", ["+13125550111"], ["rp@example.com"])
    async with chromium() as browser:
        page = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        await page.locator("li[data-conversation]", has_text="Rosa Diaz").wait_for(timeout=3000)
        await page.locator("li[data-conversation]", has_text="Unknown").click()
        await page.locator(".thread-head h2", has_text="Unknown").wait_for(timeout=3000)
        await page.get_by_role("button", name="Patient details").click()
        panel = page.get_by_role("complementary", name="Patient record")
        await panel.get_by_role("button", name="Merge a duplicate…").click()
        dialog = page.get_by_role("dialog", name="Merge a duplicate into Unknown")
        await dialog.get_by_label("Name, phone or e-mail of the duplicate").fill("ros")
        await dialog.get_by_role("button", name="Find").click()
        await dialog.get_by_role("button", name="Rosalind Park").wait_for(timeout=3000)
        await dialog.get_by_role("button", name="Rosa Diaz").click()
        assert "This cannot be undone" in await dialog.inner_text()
        await dialog.get_by_role("button", name="Merge Rosa Diaz into Unknown").click()
        await dialog.get_by_role("status").filter(has_text="Merged.").wait_for(timeout=3000)
        await dialog.get_by_role("button", name="Done").click()
        await dialog.wait_for(state="detached", timeout=2000)

        # The kept thread took Rosa's name, numbers and words; her old thread is gone from the list.
        await page.locator(".thread-head h2", has_text="Rosa Diaz").wait_for(timeout=3000)
        record = await panel.get_by_test_id("patient-record").inner_text()
        assert "+12025550190" in record and "+12025550191" in record
        await page.locator(f'li[data-conversation="{rosa_thread}"]').wait_for(state="detached", timeout=3000)
        await page.locator(".timeline .body", has_text="it's Rosa from my old number").wait_for(timeout=3000)
        assert await page.locator(".timeline .body", has_text="hello, new phone").count() == 1
        assert page.errors == [] and page.dialogs == []


CSV = (
    "First Name,Last Name,Mobile,Email,DOB,Notes\n"
    "Ana,Lopez,(202) 555-0123,ana@example.com,1990-01-02,first\n"
    "Ben,Short,12,ben@example.com,,bad phone\n"
    "Ana,Lopez,202-555-0123,,,again\n"
    "Cara,Nguyen,+1 312 555 0144,,03/04/1985,\n"
)


async def test_csv_import_reports_rejected_rows_and_imports_the_rest(served_on_port: Any) -> None:
    server, p = served_on_port, served_on_port.practice
    async with chromium() as browser:
        staff = await signed_in_page(browser, server.base, p.staff_a, PASSWORD)
        assert await admin_menu(staff).count() == 0
        assert await staff.locator("button.import").count() == 0
        page = await signed_in_page(browser, server.base, p.admin, PASSWORD)
        await open_admin_tool(page, "Import patients")
        dialog = page.get_by_role("dialog", name="Import patients from CSV")
        await dialog.get_by_role("button", name="Check the file").click()
        await dialog.get_by_role("alert").filter(has_text="Choose a CSV file first.").wait_for(timeout=2000)
        await dialog.get_by_label("CSV file").set_input_files(
            {"name": "patients.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
        )
        await dialog.get_by_role("button", name="Check the file").click()
        report = dialog.get_by_test_id("import-report")
        await report.filter(has_text="4 rows read: 2 patients can be imported, 2 rejected.").wait_for(
            timeout=3000
        )
        rejected = dialog.get_by_test_id("rejected-rows")
        assert "bad phone in column Mobile" in await rejected.locator('tr[data-line="3"]').inner_text()
        assert (
            "duplicate within the file of line 2" in await rejected.locator('tr[data-line="4"]').inner_text()
        )
        assert "Notes" in await report.inner_text()  # the ignored column is named
        # A dry run stored nothing.
        status, found = await post_json(page, "/api/v1/contacts/search", {"q": "Lopez"})
        assert status == 200 and found == []

        await dialog.get_by_role("button", name="Import 2 patients").click()
        await report.filter(has_text="Imported 2 patients.").wait_for(timeout=3000)
        assert "2 rows rejected and not imported" in await report.inner_text()
        for name, expected in (("Lopez", 1), ("Nguyen", 1), ("Short", 0)):
            status, found = await post_json(page, "/api/v1/contacts/search", {"q": name})
            assert status == 200 and len(found) == expected, (name, found)
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="detached", timeout=2000)
        assert page.errors == [] and page.dialogs == []
