"""GET /api/v1/openapi.json describes every route the real app serves under /api/v1, and is valid OpenAPI 3.1.

The walk starts from the app's own router, not from the declarations, so a route added without one (or
a parameter a route takes but does not declare) fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.helpers import browser, sign_in
from web.api import API_ROUTES, ApiRoute

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _document(served: Any) -> dict[str, Any]:
    async with browser() as http:
        async with http.get(f"{base(served)}/api/v1/openapi.json") as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            return dict(await resp.json())


def _served_api_routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) of every route on the app's router under /api/v1, and /healthz."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if (path.startswith("/api/v1/") or path == "/healthz") and route.method != "HEAD":
            found.append((route.method, path, route.handler))
    return found


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_every_served_api_route_is_described_with_parameters_bodies_and_responses(served: Any) -> None:
    document = await _document(served)
    declared: dict[tuple[str, str], ApiRoute] = {(r.method, r.path): r for r in served.app[API_ROUTES]}
    served_routes = _served_api_routes(served.app)
    assert len(served_routes) >= 30  # the walk really found the app's routes
    for method, path, handler in served_routes:
        where = f"{method} {path}"
        route = declared.get((method, path))
        assert route is not None, f"{where} is served but not declared through ApiRouter"
        assert handler.__wrapped__ is route.handler, f"{where} bypasses the declared-query check"
        op = document["paths"].get(path, {}).get(method.lower())
        assert op is not None, f"{where} is missing from the document"
        assert op["summary"] and op["operationId"] and op["tags"] == [route.tag]

        params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
        path_names = re.findall(r"{(\w+)}", path)
        assert sorted(n for (where_, n) in params if where_ == "path") == sorted(path_names), where
        for name in path_names:
            assert params[("path", name)]["required"] is True
        query_names = sorted(n for (where_, n) in params if where_ == "query")
        model_fields = sorted(route.query.model_fields) if route.query else []
        assert query_names == model_fields, where
        for name in query_names:
            field = route.query.model_fields[name] if route.query else None
            assert field is not None and params[("query", name)]["required"] is field.is_required()

        body = op.get("requestBody")
        if route.body is None and not route.raw_body_types:
            assert body is None, where
        else:
            assert body is not None and body["required"] is True, f"{where} takes a body"
            content = body["content"]
            if route.body is not None:
                ref = content["application/json"]["schema"]["$ref"]
                assert ref.endswith("/" + route.body.__name__) and _resolve(document, ref)
            for media_type in route.raw_body_types:
                assert content[media_type]["schema"] == {"type": "string"}, where

        responses = op["responses"]
        ok = responses[str(route.status)]
        if route.response is not None:
            assert "application/json" in ok["content"], where
        elif route.binary_types:
            assert set(ok["content"]) == set(route.binary_types), where
        else:
            assert "content" not in ok, f"{where} answers {route.status} with no body"
        expected_errors = {"500"}
        if route.auth:
            expected_errors |= {"401", "403"}
        if route.body is not None or route.raw_body_types or route.query is not None:
            expected_errors.add("422")
        if route.body is not None or route.raw_body_types:
            expected_errors.add("413")
        if path_names:
            expected_errors.add("404")
        expected_errors |= {str(e) for e in route.errors}
        assert expected_errors <= set(responses), f"{where}: missing {expected_errors - set(responses)}"
        for status in expected_errors:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorResponse"), (where, status)

        if route.auth:
            schemes = {name for requirement in op["security"] for name in requirement}
            assert schemes == ({"session", "csrf"} if method in WRITES else {"session"}), where
        else:
            assert op["security"] == [], where
    # Nothing described that is not served.
    described = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert described == {(m, p) for m, p, _ in served_routes}
    for ref in _refs(document):
        _resolve(document, ref)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


async def test_the_parameters_the_review_found_missing_are_described(served: Any) -> None:
    paths = (await _document(served))["paths"]

    def query(path: str, method: str = "get") -> dict[str, Any]:
        return {p["name"]: p for p in paths[path][method].get("parameters", []) if p["in"] == "query"}

    before = query("/api/v1/conversations/{conversation_id}/items")["before"]
    assert before["required"] is False and "older" in before["description"]
    assert query("/api/v1/notifications")["all"]["schema"]["type"] == "boolean"
    imports = paths["/api/v1/contacts/import"]["post"]
    assert "dry_run" in query("/api/v1/contacts/import", "post")
    assert {"application/json", "text/csv"} <= set(imports["requestBody"]["content"])
    media = paths["/api/v1/media/{media_id}"]["get"]["responses"]["200"]
    assert media["content"]["*/*"]["schema"] == {"type": "string", "format": "binary"}
    assert "Content-Disposition" in media["headers"]
    login = paths["/api/v1/session"]["post"]
    assert "Retry-After" in login["responses"]["429"]["headers"]
    assert "Set-Cookie" in login["responses"]["201"]["headers"]
    assert "/api/v1/openapi.json" in paths and paths["/api/v1/openapi.json"]["get"]["security"] == []


async def test_the_document_is_valid_openapi_3_1(served: Any) -> None:
    document = await _document(served)
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises with the offending path on any structural error
    broken = {**document, "paths": {"/x": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)  # the validator is really checking (a response needs a description)


async def test_a_query_parameter_a_route_does_not_declare_is_refused(served: Any) -> None:
    url, conv = base(served), served.practice.conv_a
    async with browser() as http:
        await sign_in(http, url, "north@test.example")
        async with http.get(f"{url}/api/v1/conversations/{conv}/items?before=1&limit=5") as resp:
            assert resp.status == 200
        async with http.get(f"{url}/api/v1/conversations/{conv}/items?page=2") as resp:
            assert resp.status == 422
            assert "page" in (await resp.json())["error"]["message"]
        async with http.get(f"{url}/api/v1/teams?sort=name") as resp:
            assert resp.status == 422
            assert "takes no query parameters" in (await resp.json())["error"]["message"]
        async with http.get(f"{url}/api/v1/notifications?all=true") as resp:
            assert resp.status == 200
        async with http.get(f"{url}/api/v1/notifications?all=maybe") as resp:
            assert resp.status == 422
