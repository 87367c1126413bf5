"""REST routes declared with their schemas, so the OpenAPI document is generated, never hand-written.

The declaration is also enforced: a route refuses query parameters it does not declare, so what the
document lists is exactly what the server accepts.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from comms.errors import InvalidRequest
from web.middleware import describe_validation

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ApiRoute:
    """One REST route as the OpenAPI document describes it; the same facts the handler is held to."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    errors: tuple[int, ...]
    auth: bool
    tag: str
    raw_body_types: tuple[str, ...] = ()  # media types also accepted as the raw body (e.g. text/csv)
    binary_types: tuple[str, ...] = ()  # the success reply is a file of one of these types
    response_headers: tuple[tuple[str, str], ...] = ()  # (name, description) on the success reply

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def csrf(self) -> bool:
        """Cookie-authenticated writes must also echo the session's CSRF token."""
        return self.auth and self.method not in {"GET", "HEAD", "OPTIONS"}


API_ROUTES = web.AppKey("api_routes", list[ApiRoute])
_QUERY = web.RequestKey("frontdesk.query", BaseModel)


@dataclass
class ApiRouter:
    """A module's routes, like aiohttp's RouteTableDef, but each carries its request/response models."""

    tag: str
    routes: list[ApiRoute] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: Sequence[int] = (),
        auth: bool = True,
        raw_body_types: Sequence[str] = (),
        binary_types: Sequence[str] = (),
        response_headers: Mapping[str, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a route; the errors every route of its kind can answer are added here, once."""

        def register(handler: Handler) -> Handler:
            implied = {500}
            if auth:
                implied |= {401, 403}
            if body is not None or raw_body_types:
                implied |= {413, 422}
            if query is not None:
                implied.add(422)
            if "{" in path:
                implied.add(404)
            route = ApiRoute(
                method,
                path,
                handler,
                summary,
                body,
                query,
                response,
                status,
                tuple(sorted({*errors, *implied})),
                auth,
                self.tag,
                tuple(raw_body_types),
                tuple(binary_types),
                tuple((response_headers or {}).items()),
            )
            self.routes.append(route)
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        """Register on the app, each handler behind the check that its query is what the route declares."""
        registry = app.get(API_ROUTES)
        if registry is None:
            registry = app[API_ROUTES] = []
        for r in self.routes:
            registry.append(r)
            app.router.add_route(r.method, r.path, _declared_query_only(r))


def _declared_query_only(route: ApiRoute) -> Handler:
    """Refuse query parameters the route does not declare, so the document can never miss one."""
    handler, model = route.handler, route.query

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        if model is not None:
            request[_QUERY] = _validate_query(request, model)
        elif request.query:
            names = ", ".join(sorted(set(request.query)))[:200]
            raise InvalidRequest(f"this route takes no query parameters (got: {names})")
        return await handler(request)

    return checked


def _validate_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise InvalidRequest(describe_validation(exc)) from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Validate a JSON body against its model; a clear 422 names the fields, never their values."""
    if request.content_type != "application/json":
        raise InvalidRequest("send the body as application/json")
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation(exc)) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    """The route's query parameters, validated against their model (repeated keys: the last one wins)."""
    parsed = request.get(_QUERY)
    if isinstance(parsed, model):
        return parsed
    return _validate_query(request, model)


def reply(data: BaseModel | Sequence[BaseModel] | None, status: int = 200) -> web.Response:
    """Serialize a model (or a list of them) as JSON."""
    if data is None:
        return web.Response(status=204 if status == 200 else status)
    if isinstance(data, BaseModel):
        text = data.model_dump_json()
    else:
        text = TypeAdapter(list[Any]).dump_json([d.model_dump(mode="json") for d in data]).decode()
    return web.Response(text=text, status=status, content_type="application/json")


def int_param(request: web.Request, name: str) -> int:
    """A numeric path parameter, or 404 for anything else."""
    value = request.match_info.get(name, "")
    if not value.isdigit() or len(value) > 18:
        raise web.HTTPNotFound()
    return int(value)
