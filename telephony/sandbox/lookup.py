"""Twilio Lookup v2 on the sandbox: `GET /v2/PhoneNumbers/{number}?Fields=line_type_intelligence`.

The twilio library asks https://lookups.twilio.com/v2/PhoneNumbers/...; `AsyncSandboxHttpClient` keeps
the path, so the sandbox serves it at /v2/PhoneNumbers/{number} with Basic auth. Numbers ending 0006
are `landline` (matching the SMS magic number 30006), other valid numbers `mobile`; a number that is
not E.164 (or has too few digits) answers `valid: false` with validation_errors, as Twilio does.
Without Fields only the basic fields are filled (line_type_intelligence null).
"""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from telephony.sandbox.rest import authenticated
from telephony.sandbox.store import E164, SandboxStore

LANDLINE_SUFFIX = "0006"


def line_type(number: str) -> dict[str, object]:
    """The line_type_intelligence block for a valid number."""
    landline = number.endswith(LANDLINE_SUFFIX)
    return {
        "carrier_name": "Sandbox Landline Co" if landline else "Sandbox Wireless",
        "error_code": None,
        "mobile_country_code": None if landline else "310",
        "mobile_network_code": None if landline else "999",
        "type": "landline" if landline else "mobile",
    }


def lookup_resource(raw: str, fields: set[str]) -> dict[str, object]:
    """The PhoneNumber resource of Lookup v2 for `raw` as asked."""
    number = raw.strip()
    valid = bool(E164.match(number)) and len(number) >= 8
    north_american = valid and number.startswith("+1") and len(number) == 12
    return {
        "calling_country_code": ("1" if north_american else None) if valid else None,
        "country_code": ("US" if north_american else None) if valid else None,
        "phone_number": number,
        "national_format": f"({number[2:5]}) {number[5:8]}-{number[8:]}" if north_american else None,
        "valid": valid,
        "validation_errors": []
        if valid
        else ["INVALID_BUT_POSSIBLE" if number.startswith("+") else "NOT_A_NUMBER"],
        "caller_name": None,
        "sim_swap": None,
        "call_forwarding": None,
        "line_status": None,
        "line_type_intelligence": line_type(number) if valid and "line_type_intelligence" in fields else None,
        "identity_match": None,
        "reassigned_number": None,
        "sms_pumping_risk": None,
        "phone_number_quality_score": None,
        "pre_fill": None,
        "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{number}",
    }


class LookupApi:
    """The Lookup v2 PhoneNumbers resource."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        """The Lookup route, as the library's path has it."""
        return [web.get("/v2/PhoneNumbers/{number}", self.fetch)]

    @authenticated
    async def fetch(self, request: web.Request, account: str) -> web.StreamResponse:
        """Look a number up."""
        fields = {f.strip() for f in request.query.get("Fields", "").split(",") if f.strip()}
        return web.json_response(lookup_resource(unquote(request.match_info["number"]), fields))
