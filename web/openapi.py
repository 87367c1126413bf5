"""The OpenAPI 3.1 document, generated from the routes' declarations and their pydantic models."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.errors import ErrorResponse
from web.api import ApiRoute
from web.staff_auth import CSRF_HEADER

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Not signed in, or the session has ended",
    403: "Forbidden: role, or a missing CSRF token or foreign Origin on a write",
    404: "No such record (or not one this staff member may see)",
    409: "Conflict with the record's current state",
    413: "Request body too large",
    422: "Invalid request: the message names the fields, never their values",
    429: "Rate limited; Retry-After says for how many seconds",
    500: "Internal error (logged without patient data)",
    503: "Unavailable",
}
ERROR_HEADERS = {
    429: {
        "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}
    }
}


def _inner(model: Any) -> Any:
    return get_args(model)[0] if get_origin(model) is list else model


def _models(routes: Iterable[ApiRoute]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorResponse": ErrorResponse}
    for r in routes:
        for model in (r.body, r.response):
            inner = _inner(model)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found[inner.__name__] = inner
    return list(found.values())


def _schema_ref(model: Any) -> dict[str, Any]:
    if get_origin(model) is list:
        return {"type": "array", "items": {"$ref": REF.format(model=get_args(model)[0].__name__)}}
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(route: ApiRoute) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "a numeric id",
            "schema": {"type": "integer", "minimum": 0},
        }
        for name in route.path_params
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
            }
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def _request_body(route: ApiRoute) -> dict[str, Any] | None:
    content: dict[str, Any] = {}
    if route.body is not None:
        content["application/json"] = {"schema": _schema_ref(route.body)}
    for media_type in route.raw_body_types:
        content[media_type] = {"schema": {"type": "string"}}
    return {"required": True, "content": content} if content else None


def _responses(route: ApiRoute) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": STATUS_TEXT.get(route.status, "OK")}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _schema_ref(route.response)}}
    elif route.binary_types:
        ok["content"] = {t: {"schema": {"type": "string", "format": "binary"}} for t in route.binary_types}
    if route.response_headers:
        ok["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in route.response_headers
        }
    responses: dict[str, Any] = {str(route.status): ok}
    for status in route.errors:
        error: dict[str, Any] = {
            "description": STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": _schema_ref(ErrorResponse)}},
        }
        if status in ERROR_HEADERS:
            error["headers"] = ERROR_HEADERS[status]
        responses[str(status)] = error
    return responses


def _operation(route: ApiRoute) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.tag}_{route.handler.__name__}",  # handler names repeat across modules
        "tags": [route.tag],
        "responses": _responses(route),
    }
    if route.handler.__doc__:
        op["description"] = " ".join(route.handler.__doc__.split())
    if params := _parameters(route):
        op["parameters"] = params
    if body := _request_body(route):
        op["requestBody"] = body
    if route.csrf:
        op["security"] = [{"session": [], "csrf": []}]
    elif route.auth:
        op["security"] = [{"session": []}]
    else:
        op["security"] = []
    return op


def build_openapi(
    routes: Iterable[ApiRoute], version: str, cookie_name: str = "frontdesk_session"
) -> dict[str, Any]:
    """Every API route with its parameters, bodies, replies and errors; schemas shared under components."""
    routes = list(routes)
    _, defs = models_json_schema([(m, "validation") for m in _models(routes)], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Frontdesk staff API",
            "version": version,
            "description": "The REST API behind the staff inbox. Errors are always JSON "
            '`{"error": {"code", "message"}}`; live updates come over the WebSocket at /ws.',
        },
        "tags": _tags(routes),
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie_name,
                    "description": "The session cookie set by POST /api/v1/session "
                    "(HttpOnly, SameSite=Strict).",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": CSRF_HEADER,
                    "description": "Writes also send the session's csrf_token (from POST or GET "
                    "/api/v1/session) in this header; a browser's Origin must be one of ours.",
                },
            },
        },
    }


def _tags(routes: list[ApiRoute]) -> list[dict[str, str]]:
    return [{"name": name} for name in sorted({r.tag for r in routes})]


@functools.lru_cache(maxsize=8)
def document_bytes(routes: tuple[ApiRoute, ...], version: str, cookie_name: str) -> bytes:
    """The document is the same for the life of the process: build and serialize it once."""
    return json.dumps(build_openapi(routes, version, cookie_name), separators=(",", ":")).encode()
