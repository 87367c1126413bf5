"""REST: patient records: read and edit, merge duplicates, choose the patient for a shared number, import."""

from __future__ import annotations

from aiohttp import web

from comms import contacts, contacts_import, contacts_merge, contacts_read, contacts_search, households
from comms.errors import InvalidRequest
from schemas.contacts import (
    ContactMatch,
    ContactOut,
    ContactUpdate,
    ImportReport,
    ImportRequest,
    MergeRequest,
    MergeResult,
    MoveItemRequest,
    MoveResult,
)
from schemas.rest import ImportQuery
from schemas.search import SearchRequest
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("contacts")

# The app's client_max_size (web.app.MAX_BODY); imports larger than one request takes must be split.
MAX_REQUEST = 1024 * 1024
RAW_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"})


def _too_large() -> contacts_import.ImportTooLarge:
    return contacts_import.ImportTooLarge(
        f"an import request takes up to {MAX_REQUEST:,} bytes (1 MiB); split the file and import each part"
    )


@router.route(
    "POST",
    "/api/v1/contacts/search",
    summary="Find patient records by name, phone or e-mail (in the body: what staff type is PHI)",
    body=SearchRequest,
    response=list[ContactMatch],
)
async def search_contacts(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, SearchRequest)
    return reply(await contacts_search.find_contacts(request.app[SERVICES], actor, body.q, body.limit))


@router.route(
    "GET", "/api/v1/contacts/{contact_id}", summary="One patient record", response=ContactOut, errors=(404,)
)
async def get_contact(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await contacts_read.get_contact(request.app[SERVICES], actor, int_param(request, "contact_id"))
    )


@router.route(
    "PATCH",
    "/api/v1/contacts/{contact_id}",
    summary="Edit a patient (naming an unknown sender identifies them)",
    body=ContactUpdate,
    response=ContactOut,
    errors=(404,),
)
async def update_contact(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ContactUpdate)
    return reply(
        await contacts.update_contact(request.app[SERVICES], actor, int_param(request, "contact_id"), body)
    )


@router.route(
    "POST",
    "/api/v1/contacts/{contact_id}/merge",
    summary="Merge a duplicate patient into this one",
    body=MergeRequest,
    response=MergeResult,
    errors=(404, 409),
)
async def merge_contacts(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, MergeRequest)
    result = await contacts_merge.merge_contacts(
        request.app[SERVICES], actor, int_param(request, "contact_id"), body.merge_id
    )
    return reply(result)


@router.route(
    "POST",
    "/api/v1/items/{item_id}/move",
    summary="Move a text from a shared number to the household member who wrote it",
    body=MoveItemRequest,
    response=MoveResult,
    errors=(404,),
)
async def move_item(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, MoveItemRequest)
    result = await households.move_item_to_contact(
        request.app[SERVICES], actor, int_param(request, "item_id"), body.contact_id, body.include_later
    )
    return reply(result)


async def _import_body(request: web.Request) -> tuple[bytes | str, bool]:
    """The CSV and the dry-run flag, from a raw text/csv body or from JSON {csv, dry_run}."""
    if request.content_length is not None and request.content_length > MAX_REQUEST:
        raise _too_large()
    try:
        if request.content_type == "application/json":
            body = await parse_body(request, ImportRequest)
            return body.csv, body.dry_run
        if request.content_type in RAW_TYPES:
            return await request.read(), parse_query(request, ImportQuery).dry_run
    except web.HTTPRequestEntityTooLarge:
        raise _too_large() from None
    raise InvalidRequest("send the CSV as text/csv, or as JSON {csv, dry_run}")


@router.route(
    "POST",
    "/api/v1/contacts/import",
    summary="Import patients from CSV (text/csv body, ?dry_run=true; or JSON); admins only, up to 1 MiB",
    body=ImportRequest,
    raw_body_types=sorted(RAW_TYPES),
    query=ImportQuery,
    response=ImportReport,
    errors=(404, 413),
)
async def import_contacts(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    actor.require_admin()
    data, dry_run = await _import_body(request)
    report = await contacts_import.import_csv(
        request.app[SERVICES], actor, actor.practice_id, data, dry_run=dry_run
    )
    return reply(report)
