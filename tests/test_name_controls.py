"""Names staff give to form templates, ring groups and teams are one clean line: a control character
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
