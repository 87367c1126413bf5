// One timeline item as a list entry: the meta line (kind, author, time, delivery), then its kind's body.
import { api } from "/static/api.js";
import { h, when } from "/static/dom.js";
import { householdChooser } from "/static/household_chooser.js";
import { callBody, voicemailBody } from "/static/call_items.js";
import { emailBody } from "/static/item_email.js";
import { mediaEls } from "/static/item_media.js";
import { paymentBody } from "/static/payment_items.js";
import { formBody } from "/static/form_items.js";

const STATUS_WORDS = {
  pending: "sending…", scheduled: "scheduled", sending: "sending…", queued: "✓ sent to carrier",
  accepted: "✓ sent to carrier", sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read",
  undelivered: "not delivered", failed: "failed", canceled: "canceled", received: "",
};

const KIND_LABEL = {
  sms: "Text", mms: "Picture message", email: "E-mail", call: "Call", voicemail: "Voicemail",
  note: "Internal note", activity: "", appointment: "Appointment", payment: "Payment", review: "Review",
  form: "Form",
};

// The body of each kind; kinds not listed show their text as it is.
const BODY_BY_KIND = {
  email: (item) => emailBody(item),
  call: (item, { staff }) => callBody(item, staff),
  voicemail: (item) => voicemailBody(item),
  payment: (item, { onError }) => paymentBody(item, { onError }),
  review: (item) => reviewBody(item),
  form: (item, { onError }) => formBody(item, { onError }),
};
// Kinds whose body says where they stand in their own words (not a text's delivery ticks).
const OWN_STATUS = new Set(["payment", "review", "form"]);

function reviewBody(item) {
  const clicks = (item.meta || {}).clicks || 0;
  const words = clicks ? `link opened ${clicks === 1 ? "once" : `${clicks} times`}` : "link sent, not opened yet";
  return h("div", { class: "body review", "data-testid": "review-card", dataset: { status: item.status || "" } },
    `Asked for a review · ${words}`);
}
// Kinds whose body shows their own files (e-mail attachments, the voicemail's audio).
const OWN_MEDIA = new Set(["email", "call", "voicemail"]);

function textBody(item) {
  return h("div", { class: "body" }, item.body);
}

// How the patient's answer to a reminder was read; the two that need staff stand out.
const REPLY_WORDS = {
  confirm: ["Patient confirmed by reply", false],
  reschedule: ["Patient asks to reschedule: needs a look", true],
  alert: ["Patient's reply needs a look", true],
};

function reminderReply(item) {
  const [words, attention] = REPLY_WORDS[((item.meta || {}).reminder || {}).reply] || [];
  if (!words) return null;
  return h("div", { class: `reminder-reply${attention ? " attention" : ""}`, "data-testid": "reminder-reply", role: attention ? "status" : null }, words);
}

// An alert about a reminder reply: a button to say it is handled, then who handled it and when.
function alertHandling(item, staff, onError) {
  const handled = (item.meta || {}).handled;
  if (handled) {
    const who = staff.get(handled.by);
    return h("span", { class: "alert-handled", "data-testid": "alert-handled" }, ` · handled${who ? ` by ${who.name}` : ""} ${when(handled.at)}`);
  }
  return h("button", { class: "link", "data-testid": "mark-handled",
    onclick: () => api("POST", `/api/v1/items/${item.id}/handled`).catch(onError) }, "Mark handled");
}

function failure(item) {
  const meta = item.meta || {};
  const why = meta.error || (item.error_code ? `The carrier reported error ${item.error_code}.` : "");
  return why ? h("div", { class: "item-error", role: "note" }, `Not delivered: ${why}`) : null;
}

/** Why a text waiting in the outbox is being tried again, in the sender's words ("" when not retrying). */
export function retryReason(item) {
  const raw = String((item.meta || {}).retrying || "").trim();
  if (!raw || !["pending", "sending"].includes(item.status)) return "";
  // "Retrying…" says it is tried again; the reason need not say so twice.
  const reason = raw.replace(/[\s;.,]*trying again[.…]*$/i, "").replace(/[\s;.,]+$/, "");
  return reason ? `${reason.charAt(0).toUpperCase()}${reason.slice(1)}.` : "";
}

function retrying(item) {
  const reason = retryReason(item);
  return h("div", { class: "item-retrying", role: "note", "data-testid": "item-retrying" },
    reason ? `Retrying… ${reason}` : "Retrying…");
}

/**
 * The <li> for one item; `onError` shows a failed action (cancelling a scheduled text), `household`
 * is what the "who wrote this?" chooser needs (see household_chooser.js).
 */
export function itemEl(item, { staff, onError, household }) {
  const author = item.author_id ? staff.get(item.author_id) : null;
  const label = KIND_LABEL[item.kind] ?? item.kind;
  const meta = item.meta || {};
  const retry = !OWN_STATUS.has(item.kind) && Boolean(meta.retrying) && ["pending", "sending"].includes(item.status);
  const words = retry ? "retrying…"
    : item.status && !OWN_STATUS.has(item.kind) ? (STATUS_WORDS[item.status] ?? item.status) : "";
  const failed = !OWN_STATUS.has(item.kind) && ["failed", "undelivered"].includes(item.status);
  const cancel = item.status === "scheduled"
    ? h("button", { class: "link", onclick: () => api("POST", `/api/v1/items/${item.id}/cancel`).catch(onError) }, "Cancel")
    : null;
  const body = (BODY_BY_KIND[item.kind] || textBody)(item, { staff, onError });
  const alert = item.kind === "activity" && meta.alert ? ` alert${meta.handled ? " handled" : ""}` : ""; // a patient's reply staff must act on
  return h("li", { class: `item ${item.direction} kind-${item.kind}${failed ? " failed" : ""}${alert}`, dataset: { item: item.id, status: item.status || "" } },
    h("div", { class: "item-meta" }, label, author ? ` · ${author.name}` : "",
      h("time", { datetime: item.created_at }, ` ${when(item.created_at)}`),
      meta.send_at && item.status === "scheduled" ? ` · goes ${when(meta.send_at)} ${new Date(meta.send_at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" })}` : "",
      words ? h("span", { class: "item-status" }, ` · ${words}`) : null, cancel,
      alert ? alertHandling(item, staff, onError) : null),
    body,
    OWN_MEDIA.has(item.kind) ? null : mediaEls(item),
    failed ? failure(item) : null,
    retry ? retrying(item) : null,
    meta.reminder ? reminderReply(item) : null,
    household ? householdChooser(item, household) : null);
}
