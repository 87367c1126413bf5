"""Names staff give to form templates, ring groups, teams, providers, appointment types, holidays and
phone-tree choices are one clean line: a control character
(NUL, which PostgreSQL refuses outright and was a 500, or another C0/C1 control) is a 422 naming the
field, on create and on rename, and nothing is stored; ordinary names, spaces tidied, go through."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession

from tests.helpers import ORIGIN, browser, sign_in

CONTROLS = ["\x00", "\x1b", "\x7f", "\x85"]
DEFINITION = {
    "sections": [{"title": "About you", "fields": [{"key": "first", "label": "Name", "kind": "text"}]}]
}


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _call(
    http: ClientSession, csrf: str, method: str, url: str, body: dict[str, Any]
) -> tuple[int, Any]:
    headers = {"Origin": ORIGIN, "X-CSRF-Token": csrf}
    async with http.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


def _refused(status: int, body: Any) -> None:
    assert status == 422, body
    assert body["error"]["message"] == "name contains control characters, which cannot be stored", body


@pytest.mark.parametrize("control", CONTROLS)
async def test_a_control_character_in_a_name_is_refused_naming_the_field(served: Any, control: str) -> None:
    url, p = base(served), served.practice
    async with browser() as http:
        csrf = (await sign_in(http, url, p.admin))["csrf_token"]
        bad = f"Front{control}desk"

        templates = f"{url}/api/v1/form-templates"
        _refused(*await _call(http, csrf, "POST", templates, {"name": bad, "definition": DEFINITION}))
        status, template = await _call(
            http, csrf, "POST", templates, {"name": "Intake", "definition": DEFINITION}
        )
        assert status == 201, template
        _refused(*await _call(http, csrf, "PATCH", f"{templates}/{template['id']}", {"name": bad}))

        groups = f"{url}/api/v1/locations/{p.loc_a}/ring-groups"
        _refused(*await _call(http, csrf, "POST", groups, {"name": bad}))
        status, group = await _call(http, csrf, "POST", groups, {"name": "Billing"})
        assert status == 201, group
        _refused(*await _call(http, csrf, "PUT", f"{groups}/{group['id']}", {"name": bad}))

        teams = f"{url}/api/v1/teams"
        _refused(*await _call(http, csrf, "POST", teams, {"name": bad}))

        # Nothing of the refused names was stored.
        async with http.get(f"{templates}/{template['id']}") as resp:
            assert (await resp.json())["name"] == "Intake"
        async with http.get(groups) as resp:
            assert [g["name"] for g in await resp.json()] == ["Billing"]
        async with http.get(teams) as resp:
            assert all(control not in t["name"] for t in await resp.json())


async def test_ordinary_names_go_through_with_their_spaces_tidied(served: Any) -> None:
    url, p = base(served), served.practice
    async with browser() as http:
        csrf = (await sign_in(http, url, p.admin))["csrf_token"]
        templates = f"{url}/api/v1/form-templates"
        body = {"name": " New\tpatient  intake ", "definition": DEFINITION}
        status, template = await _call(http, csrf, "POST", templates, body)
        assert status == 201 and template["name"] == "New patient intake", template
        status, renamed = await _call(
            http, csrf, "PATCH", f"{templates}/{template['id']}", {"name": "Consent: Ñoño (ES)"}
        )
        assert status == 200 and renamed["name"] == "Consent: Ñoño (ES)", renamed

        groups = f"{url}/api/v1/locations/{p.loc_a}/ring-groups"
        status, group = await _call(http, csrf, "POST", groups, {"name": " Front\ndesk "})
        assert status == 201 and group["name"] == "Front desk", group
        status, group = await _call(
            http, csrf, "PUT", f"{groups}/{group['id']}", {"name": "Billing & Insurance"}
        )
        assert status == 200 and group["name"] == "Billing & Insurance", group
        status, body = await _call(http, csrf, "PUT", f"{groups}/{group['id']}", {"name": " \t "})
        assert status == 422 and body["error"]["message"] == "a ring group needs a name", body

        status, team = await _call(http, csrf, "POST", f"{url}/api/v1/teams", {"name": "  Hygiene\tteam "})
        assert status == 201 and team["name"] == "Hygiene team", team


def _refused_at(status: int, body: Any, field: str) -> None:
    assert status == 422, body
    message = body["error"]["message"]
    assert message == f"{field}: Value error, contains control characters, which cannot be stored", message


@pytest.mark.parametrize("control", CONTROLS)
async def test_setup_names_with_a_control_character_are_refused_as_the_request_is_read(
    served: Any, control: str
) -> None:
    """Providers, appointment types, holidays and phone-tree choices: 422 naming the field, nothing stored."""
    url, p = base(served), served.practice
    async with browser() as http:
        csrf = (await sign_in(http, url, p.admin))["csrf_token"]
        bad = f"Dr{control} Ng"

        providers = f"{url}/api/v1/providers"
        _refused_at(
            *await _call(http, csrf, "POST", providers, {"name": bad, "location_ids": [p.loc_a]}), "name"
        )
        status, provider = await _call(
            http, csrf, "POST", providers, {"name": "Dr  Ng", "location_ids": [p.loc_a]}
        )
        assert status == 201 and provider["name"] == "Dr Ng", provider
        update = {"name": bad, "location_ids": [p.loc_a], "active": True}
        _refused_at(*await _call(http, csrf, "PUT", f"{providers}/{provider['id']}", update), "name")

        types = f"{url}/api/v1/appointment-types"
        _refused_at(*await _call(http, csrf, "POST", types, {"name": bad, "duration_minutes": 30}), "name")
        async with http.get(types) as resp:
            assert all(control not in t["name"] for t in await resp.json())

        holidays = f"{url}/api/v1/locations/{p.loc_a}/holidays"
        holiday = {"date": "2031-12-25", "name": f"Christmas{control}"}
        _refused_at(*await _call(http, csrf, "POST", holidays, holiday), "name")
        async with http.get(holidays) as resp:
            assert resp.status == 200 and await resp.json() == []

        voice = f"{url}/api/v1/locations/{p.loc_a}/voice"
        async with http.get(voice) as resp:
            config = await resp.json()
        option = {"digit": "1", "label": f"Billing{control}", "action": "voicemail"}
        _refused_at(
            *await _call(http, csrf, "PUT", voice, {**config, "menu_options": [option]}),
            "menu_options.0.label",
        )
        spoken = {"digit": "1", "label": "Billing", "words": [f"bill{control}ing"], "action": "voicemail"}
        _refused_at(
            *await _call(http, csrf, "PUT", voice, {**config, "menu_options": [spoken]}),
            "menu_options.0.words.0",
        )
        async with http.get(voice) as resp:
            assert (await resp.json())["menu_options"] == config["menu_options"]


async def test_a_setup_name_of_only_spaces_is_refused_and_pasted_whitespace_is_tidied(served: Any) -> None:
    url, p = base(served), served.practice
    async with browser() as http:
        csrf = (await sign_in(http, url, p.admin))["csrf_token"]
        types = f"{url}/api/v1/appointment-types"
        status, body = await _call(http, csrf, "POST", types, {"name": " \t ", "duration_minutes": 30})
        assert status == 422 and body["error"]["message"] == "name: Value error, must not be blank", body
        status, kind = await _call(
            http, csrf, "POST", types, {"name": "New\tpatient\n exam", "duration_minutes": 60}
        )
        assert status == 201 and kind["name"] == "New patient exam", kind
