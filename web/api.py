"""REST routes declared with their schemas, so the OpenAPI document is generated, never hand-written."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
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
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            implied = {401, 403} if auth else set()
            if body is not None or query is not None:
                implied.add(422)
            all_errors = tuple(sorted({*errors, *implied}))
            self.routes.append(
                ApiRoute(
                    method, path, handler, summary, body, query, response, status, all_errors, auth, self.tag
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for r in self.routes:
            app.router.add_route(r.method, r.path, r.handler)


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
    """Validate query parameters against their model (repeated keys: the last one wins)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise InvalidRequest(describe_validation(exc)) from None


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
