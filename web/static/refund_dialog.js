// The refund dialog on a payment card: all or part of what was paid, checked before it is sent, then
// confirmed in words (a refund cannot be taken back). The card itself follows Stripe's refund event.
import { api } from "/static/api.js";
import { h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";
import { money, parseCents } from "/static/payment_items.js";

/** Cents to refund from the form's choice, or a sentence saying what is wrong with it. */
export function refundAmount(choice, typed, refundable, currency = "usd") {
  if (choice === "full") return { cents: refundable };
  const cents = parseCents(typed);
  if (cents === null) return { error: "Enter the refund in dollars and cents, like 25.00." };
  if (cents < 1) return { error: "Enter an amount above $0.00." };
  if (cents > refundable) return { error: `At most ${money(refundable, currency)} can be refunded.` };
  return { cents };
}

/** Open the dialog for one request; resolves when it closes (refunded or not). */
export function askRefund(requestId, refundable, currency) {
  const full = h("input", { type: "radio", name: "refund-kind", value: "full", id: "refund-full", checked: true });
  const part = h("input", { type: "radio", name: "refund-kind", value: "part", id: "refund-part" });
  const amount = h("input", {
    id: "refund-amount", name: "amount", inputmode: "decimal", autocomplete: "off", disabled: true,
    "aria-describedby": "refund-limit", value: (refundable / 100).toFixed(2),
  });
  const error = h("p", { class: "error", role: "alert", id: "refund-error" });
  const next = h("button", { type: "submit" }, "Continue");
  const choose = h("form", { class: "refund-choose", novalidate: true },
    h("fieldset", {}, h("legend", {}, "How much to refund"),
      h("label", { class: "check", for: "refund-full" }, full, ` All of it (${money(refundable, currency)})`),
      h("label", { class: "check", for: "refund-part" }, part, " Part of it")),
    h("label", { for: "refund-amount" }, "Refund amount ($) ", amount),
    h("p", { class: "hint", id: "refund-limit" }, `Up to ${money(refundable, currency)}, back to the card or account that paid.`),
    error,
    h("div", { class: "actions" }, next));
  const question = h("p", { "data-testid": "refund-question" });
  const confirmError = h("p", { class: "error", role: "alert" });
  const confirm = h("button", { type: "button", class: "danger" }, "Refund");
  const back = h("button", { type: "button" }, "Back");
  const confirmStep = h("div", { class: "refund-confirm", hidden: true },
    question, confirmError, h("div", { class: "actions" }, back, confirm));

  let cents = 0;
  const partChosen = () => {
    amount.disabled = !part.checked;
    amount.setAttribute("aria-invalid", "false");
    error.textContent = "";
    if (part.checked) { amount.focus(); amount.select(); }
  };
  full.addEventListener("change", partChosen);
  part.addEventListener("change", partChosen);
  choose.addEventListener("submit", (e) => {
    e.preventDefault();
    const found = refundAmount(part.checked ? "part" : "full", amount.value, refundable, currency);
    if (found.error) {
      error.textContent = found.error;
      amount.setAttribute("aria-invalid", "true");
      amount.focus();
      return;
    }
    cents = found.cents;
    const word = cents === refundable ? "the full" : "a partial";
    question.textContent = `Refund ${money(cents, currency)} (${word} refund)? This cannot be undone.`;
    confirm.textContent = `Refund ${money(cents, currency)}`;
    confirmError.textContent = "";
    choose.hidden = true;
    confirmStep.hidden = false;
    confirm.disabled = false;
    confirm.focus();
  });
  back.addEventListener("click", () => {
    confirmStep.hidden = true;
    choose.hidden = false;
    (part.checked ? amount : full).focus();
  });
  let dialog = null;
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      // "All of it" asks for what is left at Stripe, so a refund made meanwhile elsewhere is not refused.
      const body = cents === refundable && full.checked ? {} : { amount_cents: cents };
      await api("POST", `/api/v1/payment-requests/${requestId}/refund`, body);
      dialog.close("refunded");
    } catch (err) {
      confirmError.textContent = err.message;
      confirm.disabled = false;
      back.focus();
    }
  });
  dialog = openDialog({ title: "Refund a payment", content: h("div", {}, choose, confirmStep), testId: "refund-dialog" });
  full.focus();
  return dialog.done;
}
