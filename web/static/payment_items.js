// Payment requests in the thread: the live card (amount, where it stands, what was paid or refunded),
// the refund action on it, and the dialog staff ask for a payment with.
import { api } from "/static/api.js";
import { h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

export function money(cents, currency = "usd") {
  const amount = (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency === "usd" ? `$${amount}` : `${amount} ${currency.toUpperCase()}`;
}

const WORDS = {
  sent: "sent to the patient", opened: "opened by the patient", processing: "bank payment processing",
  paid: "paid", partially_paid: "partly paid",
  failed: "payment failed", expired: "link expired", refunded: "refunded",
};

/** Dollars and cents as typed ("125", "125.5", "$1,250.00") to cents; null when it is not an amount. */
export function parseCents(text) {
  const found = /^\s*\$?\s*(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{1,2}))?\s*$/.exec(text || "");
  if (!found) return null;
  return Number(found[1].replace(/,/g, "")) * 100 + Number((found[2] || "0").padEnd(2, "0"));
}

export function paymentBody(item, { onError }) {
  const m = item.meta || {};
  const currency = m.currency || "usd";
  const parts = [`${WORDS[item.status] || item.status}`];
  if (item.status === "processing" && m.processing_cents) parts.push(`${money(m.processing_cents, currency)} clearing`);
  if (item.status === "partially_paid") parts.push(`${money(m.paid_cents, currency)} paid, ${money(m.balance_cents, currency)} due`);
  if (m.refunded_cents && item.status !== "refunded") parts.push(`${money(m.refunded_cents, currency)} refunded`);
  const refundable = (m.paid_cents || 0) - (m.refunded_cents || 0);
  const refund = refundable > 0
    ? h("button", { type: "button", class: "link", onclick: () => askRefund(m.payment_request_id, refundable, currency).catch(onError) }, "Refund…")
    : null;
  return h("div", { class: "body payment", "data-testid": "payment-card" },
    h("div", { class: "payment-amount" }, money(m.amount_cents || 0, currency), " · ", item.body),
    h("div", { class: `payment-status payment-${item.status}`, "data-testid": "payment-status", dataset: { status: item.status } },
      parts.join(" · ")),
    item.status === "failed" && m.failure ? h("div", { class: "item-error", role: "note" }, m.failure) : null,
    refund);
}

async function askRefund(requestId, refundable, currency) {
  const refunds = await import("/static/refund_dialog.js");  // loaded when first needed; it uses money()
  await refunds.askRefund(requestId, refundable, currency);
}

/** The "Request payment" dialog for a thread; resolves once the request is made (or the dialog closed). */
export function requestPayment(conversationId) {
  const amount = h("input", { name: "amount", inputmode: "decimal", required: true, autocomplete: "off", placeholder: "125.00" });
  const description = h("input", { name: "description", maxlength: 200, required: true, autocomplete: "off" });
  const partial = h("input", { type: "checkbox", name: "allow_partial" });
  const channel = h("select", { name: "channel" },
    h("option", { value: "sms" }, "Text message"), h("option", { value: "email" }, "E-mail"));
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit" }, "Send payment request");
  let dialog = null;
  const form = h("form", { class: "payment-request", onsubmit: async (e) => {
    e.preventDefault();
    const cents = parseCents(amount.value);
    if (!cents) { error.textContent = "Enter the amount in dollars and cents, like 125.00."; amount.focus(); return; }
    submit.disabled = true;
    try {
      await api("POST", `/api/v1/conversations/${conversationId}/payment-requests`,
        { amount_cents: cents, description: description.value, allow_partial: partial.checked, channel: channel.value });
      dialog.close();
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  } },
  h("label", {}, "Amount ($) ", amount),
  h("label", {}, "What it is for ", description),
  h("label", { class: "check" }, partial, " The patient may pay part now"),
  h("label", {}, "Send the link by ", channel),
  h("p", { class: "hint" }, "The patient gets a secure link to pay; reminders and the receipt go the same way."),
  error,
  h("div", { class: "actions" }, submit));
  dialog = openDialog({ title: "Request a payment", content: form, testId: "payment-dialog" });
  amount.focus();
  return dialog.done;
}
