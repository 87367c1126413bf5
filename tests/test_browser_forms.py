"""Intake forms in real browsers: staff send a form from the thread; the patient, on a phone-sized
screen, fills part of it (a card photo included), leaves, comes back to find it as they left it, signs
with a drawn signature and submits; the staff thread shows the completed card and the updated record
without a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from comms import form_templates
from comms.access import Actor
from comms.form_models import FormRequest, FormUpload
from tests.browser import admin_menu, chromium, no_horizontal_overflow, open_admin_tool, signed_in_page
from tests.carrier import start_pair
from tests.forms_rig import JPEG, link_of, published_template
from tests.helpers import PASSWORD
from tests.voice import open_desk
from web.keys import SERVICES

PHONE = {"width": 360, "height": 640}


async def test_patient_fills_leaves_returns_signs_and_staff_see_it_live(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    p = carrier.practice
    admin = await open_desk(carrier.base, p.admin, on_duty=False)
    template = await published_template(admin, carrier.base)
    await admin.close()
    async with chromium() as browser:
        staff = await signed_in_page(browser, carrier.base, p.staff_a, PASSWORD)
        await staff.click(f'li[data-conversation="{p.conv_a}"]')
        await staff.get_by_test_id("send-form").click()
        dialog = staff.get_by_test_id("form-dialog")
        await dialog.get_by_label("Form").select_option(label="New patient intake")
        await dialog.get_by_role("button", name="Send form").click()
        await dialog.wait_for(state="detached", timeout=5000)
        card = staff.locator('[data-testid=form-card][data-status="sent"]')
        await card.filter(has_text="New patient intake").wait_for(timeout=10000)
        await staff.get_by_role("button", name="Patient details").click()
        await staff.get_by_test_id("patient-record").wait_for(timeout=10000)
        await staff.evaluate("() => { window.__notReloaded = true; }")

        async with carrier.app[SERVICES].read() as s:
            request_id = await s.scalar(select(FormRequest.id))
        assert request_id is not None and template["id"]
        link = await link_of(carrier, request_id)

        phone = await browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        patient = await phone.new_page()
        errors: list[str] = []
        patient.on("pageerror", lambda exc: errors.append(str(exc)))
        await patient.goto(link)
        await staff.locator('[data-testid=form-card][data-status="opened"]').wait_for(timeout=10000)
        await no_horizontal_overflow(patient)
        await patient.get_by_label("First name").fill("Ana")
        await patient.get_by_label("Last name").fill("Ng")
        await patient.get_by_label("E-mail").fill("ana@")
        await patient.get_by_label("E-mail").blur()
        await patient.get_by_text("Please enter an e-mail address like name@example.com.").wait_for(
            timeout=3000
        )
        await patient.get_by_label("E-mail").fill("ana@example.com")
        await patient.get_by_label("Street address").fill("12 Elm Street")
        await patient.get_by_label("City").fill("Washington")
        await patient.get_by_label("ZIP code").fill("20001")
        assert await patient.get_by_label("Insurer").is_hidden()
        await patient.get_by_label("I have dental insurance").check()
        await patient.get_by_label("Insurer").select_option("Delta")
        await patient.get_by_label("Member ID").fill("DD-4471")
        await patient.get_by_label("Photo of your insurance card").set_input_files(
            {"name": "card.jpg", "mimeType": "image/jpeg", "buffer": JPEG}
        )
        await patient.get_by_text("File received.").wait_for(timeout=10000)
        await patient.locator("#saved", has_text="Saved.").wait_for(timeout=10000)
        await staff.locator('[data-testid=form-card][data-status="in_progress"]').wait_for(timeout=10000)
        await patient.close()  # the patient leaves midway

        patient = await phone.new_page()
        patient.on("pageerror", lambda exc: errors.append(str(exc)))
        await patient.goto(link)
        assert await patient.get_by_label("First name").input_value() == "Ana"
        assert await patient.get_by_label("E-mail").input_value() == "ana@example.com"
        assert await patient.get_by_label("I have dental insurance").is_checked()
        assert await patient.get_by_label("Insurer").input_value() == "Delta"
        await patient.get_by_text("File received.").wait_for(timeout=10000)
        await patient.get_by_role("button", name="Submit").click()
        await patient.get_by_text("Some answers need attention.").wait_for(timeout=10000)
        await patient.get_by_label("Date of birth").fill("1990-04-23")
        await patient.get_by_label("I agree to the office policies").check()
        pad = patient.locator("canvas.signature")
        await pad.scroll_into_view_if_needed()
        box = await pad.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
        await patient.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
        await patient.mouse.down()
        for step in range(1, 12):
            await patient.mouse.move(box["x"] + 20 + step * 20, box["y"] + box["height"] / 2 + (step % 3) * 8)
        await patient.mouse.up()
        try:
            await patient.get_by_text("Signed.").wait_for(timeout=10000)
        except Exception:
            raise AssertionError(await patient.inner_text("[data-kind=signature]")) from None
        await patient.get_by_role("button", name="Submit").click()
        await patient.get_by_text("Your form has been received.").wait_for(timeout=10000)
        assert errors == []

        await staff.locator('[data-testid=form-card][data-status="completed"]').wait_for(timeout=10000)
        record = staff.get_by_test_id("patient-record")
        await record.filter(has_text="April 23, 1990").wait_for(timeout=10000)
        await record.filter(has_text="ana@example.com").wait_for(timeout=10000)
        await staff.locator("#contact-panel h2", has_text="Ana Ng").wait_for(timeout=10000)
        address = staff.get_by_test_id("patient-address")
        await address.filter(has_text="12 Elm Street").wait_for(timeout=10000)
        assert await address.inner_text() == "12 Elm Street\nWashington, 20001"
        insurance = staff.get_by_test_id("patient-insurance")
        await insurance.filter(has_text="Delta · member DD-4471").wait_for(timeout=10000)
        card_photo = insurance.get_by_role("link", name="card photo")
        assert (await card_photo.get_attribute("href") or "").startswith("/api/v1/form-uploads/")
        pdf_link = staff.get_by_test_id("form-pdf")
        await pdf_link.wait_for(timeout=10000)
        fetched = await staff.evaluate(
            """(url) => fetch(url).then(async (r) =>
                [r.status, r.headers.get("content-type"), (await r.text()).slice(0, 8)])""",
            await pdf_link.get_attribute("href"),
        )
        assert fetched == [200, "application/pdf", "%PDF-1.4"]  # the stored PDF, through the session
        assert await staff.evaluate("() => window.__notReloaded === true")
        await staff.get_by_role("button", name="Show answers").click()
        answers = staff.get_by_test_id("form-answers")
        await answers.locator('dd[data-field="carrier"]', has_text="Delta").wait_for(timeout=10000)
        signature = answers.locator("img.form-signature")
        await signature.wait_for(timeout=10000)
        await signature.evaluate(
            "(img) => img.decode().then(() => img.naturalWidth)"
        )  # the signature loads through the staff-only URL (a broken image would reject)
        assert staff.errors == []


async def test_admin_builds_and_publishes_a_form_with_a_condition_in_the_builder(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    p = carrier.practice
    async with chromium() as browser:
        staff = await signed_in_page(browser, carrier.base, p.staff_a, PASSWORD)
        assert await admin_menu(staff).count() == 0  # administrators only
        assert await staff.get_by_test_id("open-forms").count() == 0
        admin = await signed_in_page(browser, carrier.base, p.admin, PASSWORD)
        await open_admin_tool(admin, "Forms")
        builder = admin.get_by_test_id("form-builder")
        await builder.get_by_role("button", name="New form").click()
        await builder.get_by_label("Form name").fill("Consent")
        questions = builder.get_by_label("Question")
        await questions.nth(0).fill("Full name")
        await questions.nth(0).blur()
        await builder.get_by_label("Kind").nth(0).select_option("text")
        await builder.get_by_label("Required").nth(0).check()
        await builder.get_by_label("Fills in the record").nth(0).select_option("first_name")
        await builder.get_by_role("button", name="Add question").click()
        await questions.nth(1).fill("Insured?")
        await builder.get_by_label("Kind").nth(1).select_option("checkbox")
        await questions.nth(1).blur()
        await builder.get_by_role("button", name="Add question").click()
        await questions.nth(2).fill("Insurer")
        await questions.nth(2).blur()
        await builder.get_by_label("Kind").nth(2).select_option("choice")
        await builder.get_by_label("Options (comma-separated)").nth(2).fill("Delta, Cigna")
        await builder.get_by_label("Show only if").nth(2).select_option(label="Insured?")
        await builder.get_by_label("equals").nth(2).fill("yes")
        await builder.get_by_role("button", name="Publish").click()
        await (
            builder.get_by_test_id("builder-status")
            .filter(has_text="Version 1: published")
            .wait_for(timeout=10000)
        )
        assert admin.errors == []

        actor = Actor(0, p.practice_id, "admin", None, "test")
        [template] = await form_templates.list_templates(carrier.app[SERVICES], actor)
        [version] = template.versions
        fields = [f for s in version.definition.sections for f in s.fields]
        assert template.name == "Consent" and version.status == "published"
        assert [(f.key, f.kind, f.required) for f in fields] == [
            ("full_name", "text", True),
            ("insured", "checkbox", False),
            ("insurer", "choice", False),
        ]
        assert fields[0].maps_to == "first_name" and fields[2].options == ["Delta", "Cigna"]
        assert fields[2].show_if is not None and fields[2].show_if.model_dump() == {
            "field": "insured",
            "equals": True,
        }

        # A published version is frozen: editing it saves a new draft version.
        await builder.get_by_role("button", name="Back to forms").click()
        await builder.get_by_role("button", name="Edit Consent").click()
        status = builder.get_by_test_id("builder-status")
        await status.filter(has_text="saving starts a new version").wait_for(timeout=10000)
        await builder.get_by_role("button", name="Save draft").click()
        await status.filter(has_text="Version 2: draft saved").wait_for(timeout=10000)


async def test_a_keyboard_user_signs_by_typing_their_name(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    admin = await open_desk(carrier.base, carrier.practice.admin, on_duty=False)
    template = await published_template(admin, carrier.base)
    url = f"{carrier.base}/api/v1/conversations/{carrier.practice.conv_a}/form-requests"
    sent = await admin.api("POST", url, {"template_id": template["id"]})
    await admin.close()
    link = await link_of(carrier, sent["id"])
    async with chromium() as browser:
        phone = await browser.new_context(viewport=PHONE)
        patient = await phone.new_page()
        await patient.goto(link)
        typed = patient.get_by_label("Or type your full name to sign")
        await typed.focus()
        await patient.keyboard.type("Ana Ng")
        await patient.keyboard.press("Tab")
        await patient.keyboard.press("Enter")  # "Sign with this name"
        await patient.get_by_text("Signed.").wait_for(timeout=10000)
        await patient.locator("#saved", has_text="Saved.").wait_for(timeout=10000)
    async with carrier.app[SERVICES].read() as s:
        upload = await s.scalar(select(FormUpload).where(FormUpload.field_key == "sign"))
        row = await s.get(FormRequest, sent["id"])
    assert upload is not None and upload.content_type == "image/png" and upload.size > 500
    assert row is not None and row.answers.get("sign") == upload.id and row.status == "in_progress"
