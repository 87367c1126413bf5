"""Stripe's HTTP API as the `stripe` library calls it: Bearer secret key, form-encoded bodies,
Idempotency-Key on writes, JSON objects and `{"error": {...}}` replies."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from web.stripe_sandbox.delivery import Deliveries
from web.stripe_sandbox.forms import FormError, decode
from web.stripe_sandbox.store import Account, StripeError, public

Handler = Callable[[web.Request], Awaitable[dict[str, Any]]]


def _error(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response({"error": body}, status=status)


class StripeApi:
    """The /v1 routes; every write that raises events queues them for delivery, in order."""

    def __init__(self, account: Account, deliveries: Deliveries, secret_key: str, public_url: str) -> None:
        self.account = account
        self.deliveries = deliveries
        self.secret_key = secret_key
        self.public_url = public_url
        self._in_flight: set[str] = set()  # idempotency keys of writes not yet answered

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/checkout/sessions", self._wrap(self.create_session)),
            web.get("/v1/checkout/sessions/{id}", self._wrap(self.get_session)),
            web.post("/v1/checkout/sessions/{id}/expire", self._wrap(self.expire_session)),
            web.post("/v1/refunds", self._wrap(self.create_refund)),
            web.get("/v1/refunds/{id}", self._wrap(self.get_refund)),
            web.get("/v1/payment_intents/{id}", self._wrap(self.get_payment_intent)),
            web.get("/v1/events/{id}", self._wrap(self.get_event)),
        ]

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def run(request: web.Request) -> web.Response:
            auth = request.headers.get("Authorization", "")
            key = auth.removeprefix("Bearer ").strip()
            if not auth.startswith("Bearer ") or not hmac.compare_digest(key, self.secret_key):
                return _error(401, {"type": "invalid_request_error", "message": "Invalid API Key provided."})
            idem = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            if idem and idem in self.account.idempotent:
                status, body = self.account.idempotent[idem]
                return web.json_response(body, status=status, headers={"Idempotent-Replayed": "true"})
            if idem and idem in self._in_flight:  # as Stripe answers a concurrent use of one key
                message = "There is currently another in-progress request using this Idempotent Key."
                return _error(409, {"type": "idempotency_error", "message": message})
            before = len(self.account.events)
            if idem:
                self._in_flight.add(idem)
            try:
                body = await handler(request)
                status = 200
            except StripeError as exc:
                status, body = exc.status, {"error": exc.body}
            except FormError as exc:
                status, body = 400, {"error": {"type": "invalid_request_error", "message": str(exc)}}
            finally:
                self._in_flight.discard(idem or "")
            if idem and status < 500:
                self.account.idempotent[idem] = (status, body)
            for event in self.account.events[before:]:
                self.deliveries.send(event)
            return web.json_response(body, status=status, headers={"Request-Id": "req_sandbox"})

        return run

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.method == "GET":
            return decode(request.query.items())
        form = await request.post()
        return decode((k, str(v)) for k, v in form.items())

    async def create_session(self, request: web.Request) -> dict[str, Any]:
        return public(self.account.create_session(await self._params(request), self.public_url))

    async def get_session(self, request: web.Request) -> dict[str, Any]:
        return public(self.account.session(request.match_info["id"]))

    async def expire_session(self, request: web.Request) -> dict[str, Any]:
        sid = request.match_info["id"]
        self.account.session(sid)
        return public(self.account.expire(sid))

    async def create_refund(self, request: web.Request) -> dict[str, Any]:
        return public(self.account.refund(await self._params(request)))

    async def get_refund(self, request: web.Request) -> dict[str, Any]:
        return _found(self.account.refunds, "refund", request.match_info["id"])

    async def get_payment_intent(self, request: web.Request) -> dict[str, Any]:
        return _found(self.account.payment_intents, "payment_intent", request.match_info["id"])

    async def get_event(self, request: web.Request) -> dict[str, Any]:
        eid = request.match_info["id"]
        for event in self.account.events:
            if event["id"] == eid:
                return json.loads(json.dumps(event))
        raise StripeError(f"No such event: '{eid}'", status=404, code="resource_missing", param="id")


def _found(table: dict[str, dict[str, Any]], kind: str, oid: str) -> dict[str, Any]:
    if oid not in table:
        raise StripeError(f"No such {kind}: '{oid}'", status=404, code="resource_missing", param="id")
    return public(table[oid])
