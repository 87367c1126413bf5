// A thread's header: who the patient is, the status, and the thread actions (call, book, request a payment,
// ask for a review, send a form, assign, close, snooze).
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { snoozeMenu } from "/static/snooze_menu.js";

export async function assignConversation(conversationId, value) {
  const [kind, id] = value ? value.split(":") : [null, null];
  const note = kind ? window.prompt("Note for the hand-off (optional)") : null;
  await api("POST", `/api/v1/conversations/${conversationId}/assign`, {
    assignee_id: kind === "u" ? Number(id) : null,
    team_id: kind === "t" ? Number(id) : null,
    note: note || null,
  });
}

export async function setConversationStatus(conversationId, status, snoozedUntil) {
  const body = { status };
  if (snoozedUntil) body.snoozed_until = snoozedUntil.toISOString();
  await api("POST", `/api/v1/conversations/${conversationId}/status`, body);
}

/**
 * Draw the header of conversation `c` into `el`; `teams` and `staff` fill the assign picker,
 * `onPatient` opens or closes the patient record (`patientOpen` says which it is now).
 */
export function drawThreadHeader(el, c, { staff, teams, patientOpen, onPatient, onCall, onBook, onPayment, onReview, onForm }) {
  const staffOptions = [h("option", { value: "" }, "Unassigned")];
  for (const s of staff.values()) {
    staffOptions.push(h("option", { value: `u:${s.id}`, selected: s.id === c.assignee_id }, s.name));
  }
  for (const t of teams || []) {
    staffOptions.push(h("option", { value: `t:${t.id}`, selected: !c.assignee_id && t.id === c.team_id }, `Team: ${t.name}`));
  }
  const patient = h("button", { type: "button", class: "patient-toggle", "aria-expanded": String(Boolean(patientOpen)),
    "aria-controls": "contact-panel", onclick: onPatient }, patientOpen ? "Hide patient" : "Patient details");
  const assign = h("select", { "aria-label": "Assign to", onchange: (e) => assignConversation(c.id, e.target.value) }, staffOptions);
  const phone = c.contact.phones[0];
  const call = phone && onCall
    ? h("button", { type: "button", class: "call", "data-testid": "call-patient", onclick: () => onCall(c.id, phone) }, "Call")
    : null;
  const book = onBook
    ? h("button", { type: "button", class: "book", "data-testid": "book-appointment", onclick: () => onBook(c) }, "Book")
    : null;
  const pay = onPayment
    ? h("button", { type: "button", class: "request-payment", "data-testid": "request-payment", onclick: onPayment }, "Request payment")
    : null;
  const review = onReview
    ? h("button", { type: "button", class: "request-review", "data-testid": "request-review", onclick: onReview }, "Ask for a review")
    : null;
  const sendForm = onForm
    ? h("button", { type: "button", class: "send-form", "data-testid": "send-form", onclick: onForm }, "Send form")
    : null;
  const statusButtons = c.status === "open"
    ? [h("button", { type: "button", onclick: () => setConversationStatus(c.id, "closed"), title: "Close (e)" }, "Close"),
       snoozeMenu((until) => setConversationStatus(c.id, "snoozed", until))]
    : [h("button", { type: "button", onclick: () => setConversationStatus(c.id, "open") }, "Reopen")];
  clear(el).append(
    h("div", {},
      h("h2", {}, c.contact.name),
      h("span", { class: "meta" }, [...c.contact.phones, ...c.contact.emails].join(" · ")),
      h("span", { class: `status status-${c.status}` },
        c.status === "snoozed" && c.snoozed_until ? `snoozed until ${new Date(c.snoozed_until).toLocaleString([], { weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" })}` : c.status)),
    h("div", { class: "actions" }, call, book, pay, review, sendForm, patient, assign, statusButtons),
  );
}
