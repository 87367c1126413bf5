"""The stand-in's account: Checkout Sessions, PaymentIntents, charges, refunds and the events they raise,
shaped as Stripe's API returns them (only the fields a Checkout integration reads)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "2026-10-28.endive"
SESSION_MIN_SECONDS = 30 * 60  # Stripe: expires_at between 30 minutes and 24 hours from creation
SESSION_MAX_SECONDS = 24 * 60 * 60


TEST_ROUTING = "110000000"
BANK_ACCOUNTS = {"000123456789": "succeeded", "000111111113": "failed"}  # Stripe's test accounts
BANK_CLOSED = "The customer's bank account has been closed."


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


class StripeError(Exception):
    """An API error as Stripe answers it: HTTP status and `{"error": {type, code, message, param}}`."""

    def __init__(
        self, message: str, *, status: int = 400, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": "invalid_request_error", "message": message}
        if code:
            self.body["code"] = code
        if param:
            self.body["param"] = param


@dataclass
class Account:
    """Everything the stand-in holds; tests read `events` to see what was sent where."""

    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Record an event carrying a snapshot of the object as it is now."""
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": _copy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": new_id("req"), "idempotency_key": None},
            "type": kind,
        }
        self.events.append(event)
        return event

    def create_session(self, params: dict[str, Any], public_url: str) -> dict[str, Any]:
        """POST /v1/checkout/sessions for mode=payment with inline price_data line items."""
        if params.get("mode") != "payment":
            raise StripeError("the stand-in supports mode=payment only", param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeError(
                "Missing required param: line_items.", code="parameter_missing", param="line_items"
            )
        total, currency = 0, None
        for i, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise StripeError("line items need price_data", param=f"line_items[{i}][price_data]")
            try:
                unit, quantity = int(price["unit_amount"]), int(item.get("quantity", "1"))
            except (KeyError, ValueError):
                raise StripeError(
                    "Invalid integer", param=f"line_items[{i}][price_data][unit_amount]"
                ) from None
            if unit < 1 or quantity < 1:
                raise StripeError("amounts must be positive", param=f"line_items[{i}]")
            if not isinstance(price.get("product_data"), dict) or not price["product_data"].get("name"):
                raise StripeError("Missing product name", param=f"line_items[{i}][price_data][product_data]")
            currency = currency or str(price.get("currency", "")).lower()
            if str(price.get("currency", "")).lower() != currency or len(currency) != 3:
                raise StripeError("Invalid currency", param=f"line_items[{i}][price_data][currency]")
            total += unit * quantity
        if currency == "usd" and total < 50:
            raise StripeError("Amount must be at least $0.50 usd", code="amount_too_small")
        now = int(time.time())
        expires_at = int(params.get("expires_at", now + SESSION_MAX_SECONDS))
        if not now + SESSION_MIN_SECONDS - 5 <= expires_at <= now + SESSION_MAX_SECONDS + 5:
            raise StripeError("expires_at must be between 30 minutes and 24 hours", param="expires_at")
        sid = new_id("cs")
        session = {
            "id": sid,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"{public_url}/c/pay/{sid}",
            "_line_items": items,
            "_payment_intent_metadata": dict((params.get("payment_intent_data") or {}).get("metadata") or {}),
        }
        self.sessions[sid] = session
        return session

    def session(self, sid: str) -> dict[str, Any]:
        found = self.sessions.get(sid)
        if found is None:
            raise StripeError(
                f"No such checkout.session: '{sid}'", status=404, code="resource_missing", param="session"
            )
        if found["status"] == "open" and found["expires_at"] <= time.time():
            self.expire(sid)
        return found

    def expire(self, sid: str) -> dict[str, Any]:
        """The session can no longer be paid; Stripe sends checkout.session.expired."""
        session = self.sessions[sid]
        if session["status"] != "open":
            raise StripeError(f"Session is {session['status']}, only open sessions can be expired")
        session["status"] = "expired"
        self.event("checkout.session.expired", session)
        return session

    def pay(self, sid: str, card: str) -> tuple[bool, str | None]:
        """The test card page's Pay button: 4242… succeeds, 4000 0000 0000 0002 is declined."""
        session = self.session(sid)
        if session["status"] != "open":
            return False, f"This checkout session is {session['status']}."
        digits = "".join(ch for ch in card if ch.isdigit())
        pi = self._payment_intent(session)
        if digits == "4000000000000002":
            pi["status"] = "requires_payment_method"
            pi["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
            self.event("payment_intent.payment_failed", pi)
            return False, "Your card was declined."
        if digits != "4242424242424242":
            return False, "Use a test card: 4242 4242 4242 4242 (or 4000 0000 0000 0002 to be declined)."
        charge = self._charge(pi, "ch", paid=True, status="succeeded")
        pi.update(status="succeeded", latest_charge=charge["id"], amount_received=pi["amount"])
        pi["last_payment_error"] = None
        session.update(status="complete", payment_status="paid")
        self.event("payment_intent.succeeded", pi)
        self.event("charge.succeeded", charge)
        self.event("checkout.session.completed", session)
        return True, None

    def pay_by_bank(self, sid: str, routing: str, account: str) -> tuple[bool, str | None]:
        """A US bank debit (ACH), which clears days later: the session completes unpaid and the
        PaymentIntent is processing until `settle`. Stripe's test accounts: 000123456789 clears,
        000111111113 fails (account closed); routing number 110000000."""
        session = self.session(sid)
        if session["status"] != "open":
            return False, f"This checkout session is {session['status']}."
        outcome = BANK_ACCOUNTS.get("".join(ch for ch in account if ch.isdigit()))
        if "".join(ch for ch in routing if ch.isdigit()) != TEST_ROUTING or outcome is None:
            return False, (
                f"Use a test bank account: routing {TEST_ROUTING}, account 000123456789 "
                "(or 000111111113 to fail)."
            )
        pi = self._payment_intent(session)
        charge = self._charge(
            pi, "py", paid=False, status="pending", payment_method_details={"type": "us_bank_account"}
        )
        pi.update(status="processing", latest_charge=charge["id"], last_payment_error=None)
        pi["payment_method_types"] = ["us_bank_account"]
        session.update(status="complete", payment_status="unpaid", _settles=outcome)
        self.event("payment_intent.processing", pi)
        self.event("charge.pending", charge)
        self.event("checkout.session.completed", session)
        return True, None

    def settle(self, sid: str) -> dict[str, Any]:
        """The bank debit of a session that completed unpaid clears or fails, as its account chose:
        checkout.session.async_payment_succeeded, or checkout.session.async_payment_failed."""
        session = self.session(sid)
        outcome = session.get("_settles")
        if session["status"] != "complete" or session["payment_status"] != "unpaid" or outcome is None:
            raise StripeError("This checkout session has no bank payment processing", param="session")
        session["_settles"] = None
        pi = self.payment_intents[session["payment_intent"]]
        charge = self.charges[pi["latest_charge"]]
        if outcome == "succeeded":
            charge.update(status="succeeded", paid=True)
            pi.update(status="succeeded", amount_received=pi["amount"])
            session["payment_status"] = "paid"
            self.event("charge.succeeded", charge)
            self.event("payment_intent.succeeded", pi)
            self.event("checkout.session.async_payment_succeeded", session)
            return session
        charge.update(status="failed", failure_code="account_closed", failure_message=BANK_CLOSED)
        pi["status"] = "requires_payment_method"
        pi["last_payment_error"] = {
            "type": "invalid_request_error",
            "code": "account_closed",
            "message": BANK_CLOSED,
        }
        self.event("charge.failed", charge)
        self.event("payment_intent.payment_failed", pi)
        self.event("checkout.session.async_payment_failed", session)
        return session

    def _charge(self, pi: dict[str, Any], prefix: str, **fields: Any) -> dict[str, Any]:
        """A Charge of the whole PaymentIntent (a card's "ch_", a bank debit's "py_"), kept by its id."""
        charge = {
            "id": new_id(prefix),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": pi["amount"],
            "amount_refunded": 0,
            "currency": pi["currency"],
            "metadata": dict(pi["metadata"]),
            "payment_intent": pi["id"],
            "refunded": False,
            **fields,
        }
        self.charges[charge["id"]] = charge
        return charge

    def _payment_intent(self, session: dict[str, Any]) -> dict[str, Any]:
        if session["payment_intent"]:
            return self.payment_intents[session["payment_intent"]]
        pi = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": 0,
            "currency": session["currency"],
            "latest_charge": None,
            "last_payment_error": None,
            "metadata": dict(session["_payment_intent_metadata"]),
            "status": "requires_payment_method",
        }
        self.payment_intents[pi["id"]] = pi
        session["payment_intent"] = pi["id"]
        return pi

    def refund(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/refunds by payment_intent or charge; amount defaults to what is left."""
        charge = None
        if params.get("payment_intent"):
            pi = self.payment_intents.get(str(params["payment_intent"]))
            if pi is None:
                raise StripeError(
                    f"No such payment_intent: '{params['payment_intent']}'",
                    status=404,
                    code="resource_missing",
                    param="payment_intent",
                )
            charge = self.charges.get(pi["latest_charge"] or "")
            if charge is None:
                raise StripeError(
                    "This PaymentIntent has no successful charge to refund", param="payment_intent"
                )
        elif params.get("charge"):
            charge = self.charges.get(str(params["charge"]))
            if charge is None:
                raise StripeError(
                    f"No such charge: '{params['charge']}'",
                    status=404,
                    code="resource_missing",
                    param="charge",
                )
        else:
            raise StripeError("One of payment_intent or charge is required", code="parameter_missing")
        left = charge["amount"] - charge["amount_refunded"]
        if left <= 0:
            raise StripeError(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        try:
            amount = int(params.get("amount", left))
        except ValueError:
            raise StripeError("Invalid integer", param="amount") from None
        if amount < 1 or amount > left:
            raise StripeError(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self.event("refund.created", refund)
        self.event("charge.refunded", charge)
        return refund


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API shows it (the stand-in's own bookkeeping fields left out)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(public(obj))
