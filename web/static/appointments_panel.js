// The patient's upcoming appointments in the thread's side panel, with the lifecycle's next steps.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";

const STATUS_WORDS = { scheduled: "scheduled", confirmed: "confirmed", checked_in: "checked in" };
// The buttons each status offers (the server refuses any other move).
const NEXT = {
  scheduled: [["confirmed", "Confirm"], ["checked_in", "Check in"], ["cancelled", "Cancel"]],
  confirmed: [["checked_in", "Check in"], ["cancelled", "Cancel"], ["no_show", "No-show"]],
  checked_in: [["completed", "Complete"]],
};

function whenText(a) {
  // The location's wall clock, from the local ISO time (the staff member may sit in another zone).
  const [date, time] = [a.local_start.slice(0, 10), a.local_start.slice(11, 16)];
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const day = new Date(y, m - 1, d).toLocaleDateString([], { weekday: "short", month: "short", day: "numeric" });
  return `${day}, ${hh % 12 || 12}:${String(mm).padStart(2, "0")} ${hh < 12 ? "AM" : "PM"}`;
}

function swatch(colour) {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  el.style.backgroundColor = colour;  // through the CSSOM: the page's CSP refuses style attributes
  return el;
}

/** A section listing contact `contactId`'s upcoming appointments; `onReschedule(a)` opens the dialog. */
export function appointmentsSection(contactId, { onReschedule } = {}) {
  const list = h("ul", { class: "appointments", "data-testid": "upcoming-appointments" });
  const error = h("p", { class: "error", role: "alert" });
  const section = h("section", { class: "panel-appointments", "aria-label": "Upcoming appointments" },
    h("h3", {}, "Upcoming appointments"), list, error);

  async function draw() {
    let rows;
    try {
      rows = await api("GET", `/api/v1/contacts/${contactId}/appointments`);
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    clear(list).append(...(rows.length ? rows.map((a) => h("li", { dataset: { appointment: a.id, status: a.status } },
      swatch(a.colour),
      h("strong", {}, whenText(a)), ` ${a.type_name} with ${a.provider_name} `,
      h("span", { class: "tag" }, STATUS_WORDS[a.status] || a.status),
      h("div", { class: "actions" },
        (NEXT[a.status] || []).map(([status, label]) => h("button", { type: "button", class: "link",
          "aria-label": `${label}: ${a.type_name} ${whenText(a)}`, onclick: () => move(a, status) }, label)),
        onReschedule && ["scheduled", "confirmed"].includes(a.status)
          ? h("button", { type: "button", class: "link", onclick: () => onReschedule(a) }, "Reschedule") : null)))
      : [h("li", { class: "muted" }, "None booked.")]));
  }

  async function move(a, status) {
    error.textContent = "";
    try {
      await api("POST", `/api/v1/appointments/${a.id}/status`, { status });
      await draw();
    } catch (err) {
      error.textContent = err.message;
    }
  }

  section.refresh = draw;
  draw();
  return section;
}
