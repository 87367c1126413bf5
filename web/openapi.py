"""The OpenAPI 3.1 document, generated from the routes' pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.errors import ErrorResponse
from web.api import ApiRoute

REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Not signed in",
    403: "Forbidden (role, location or CSRF)",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Invalid request",
    429: "Rate limited",
    503: "Unavailable",
}


def _models(routes: Iterable[ApiRoute]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorResponse": ErrorResponse}
    for r in routes:
        for model in (r.body, r.response):
            inner = get_args(model)[0] if get_origin(model) is list else model
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found[inner.__name__] = inner
    return list(found.values())


def _schema_ref(model: Any) -> dict[str, Any]:
    if get_origin(model) is list:
        return {"type": "array", "items": {"$ref": REF.format(model=get_args(model)[0].__name__)}}
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route: ApiRoute) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    responses: dict[str, Any] = {}
    ok: dict[str, Any] = {"description": _STATUS_TEXT.get(route.status, "OK")}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _schema_ref(route.response)}}
    responses[str(route.status)] = ok
    for status in route.errors:
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": _schema_ref(ErrorResponse)}},
        }
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "tags": [route.tag],
        "responses": responses,
    }
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(route.body)}},
        }
    if route.auth:
        op["security"] = [{"session": []}]
    return op


def build_openapi(routes: Iterable[ApiRoute], version: str) -> dict[str, Any]:
    """Every API route with its body, reply and errors; schemas shared under components."""
    routes = list(routes)
    _, defs = models_json_schema([(m, "validation") for m in _models(routes)], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Frontdesk staff API", "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "frontdesk_session",
                    "description": "Session cookie from POST /api/v1/session; mutating requests also "
                    "send the session's CSRF token in the X-CSRF-Token header.",
                }
            },
        },
    }
