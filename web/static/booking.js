// The booking dialog in a thread: pick a type, a provider (or any) and a day, see the open times at
// the conversation's location, and book one; the booking then appears in the thread by itself.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

// "09:15" from the slot's local ISO time: the location's wall clock, whatever the browser's zone.
function localTime(localIso) {
  const [hh, mm] = localIso.slice(11, 16).split(":").map(Number);
  return `${hh % 12 || 12}:${String(mm).padStart(2, "0")} ${hh < 12 ? "AM" : "PM"}`;
}

/** Open the dialog for conversation `c` (a thread summary); resolves with the booking, or null. */
export async function openBooking(c, { appointment = null } = {}) {
  const [types, providers] = await Promise.all([
    api("GET", "/api/v1/appointment-types"),
    api("GET", `/api/v1/locations/${c.location_id}/providers`),
  ]);
  const names = new Map(providers.map((p) => [p.id, p.name]));
  const type = h("select", { name: "type", "aria-label": "Appointment type", disabled: Boolean(appointment) },
    types.map((t) => h("option", { value: t.id, selected: appointment && appointment.type_id === t.id }, `${t.name} (${t.duration_minutes} min)`)));
  const provider = h("select", { name: "provider", "aria-label": "Provider" },
    h("option", { value: "" }, "Any provider"),
    providers.map((p) => h("option", { value: p.id, selected: appointment && appointment.provider_id === p.id }, p.name)));
  const day = h("input", { type: "date", name: "day", "aria-label": "Day", value: appointment ? appointment.local_start.slice(0, 10) : isoDay(new Date()) });
  const times = h("div", { class: "slots", role: "group", "aria-label": "Open times", "data-testid": "slots" });
  const error = h("p", { class: "error", role: "alert" });
  let result = null;
  let asked = 0;  // only the latest search draws (answers to earlier choices can arrive later)

  async function find() {
    error.textContent = "";
    if (!type.value || !day.value) return;
    const mine = ++asked;
    clear(times).append(h("p", { class: "muted" }, "Looking…"));
    const q = new URLSearchParams({ type_id: type.value, date_from: day.value, date_to: day.value });
    if (provider.value) q.set("provider_id", provider.value);
    try {
      const slots = await api("GET", `/api/v1/locations/${c.location_id}/slots?${q}`);
      if (mine !== asked) return;
      clear(times).append(...(slots.length ? slots.map((s) => h("button", { type: "button", class: "slot",
        "aria-label": `${localTime(s.local_start)} with ${names.get(s.provider_id) || "provider"}`,
        onclick: () => book(s) }, localTime(s.local_start), h("span", { class: "muted" }, ` ${names.get(s.provider_id) || ""}`)))
        : [h("p", { class: "muted" }, "No open times that day.")]));
    } catch (err) {
      if (mine !== asked) return;
      clear(times);
      error.textContent = err.message;
    }
  }

  async function book(slot) {
    error.textContent = "";
    try {
      result = appointment
        ? await api("POST", `/api/v1/appointments/${appointment.id}/reschedule`, { starts_at: slot.starts_at, provider_id: slot.provider_id })
        : await api("POST", `/api/v1/conversations/${c.id}/appointments`, { provider_id: slot.provider_id, type_id: Number(type.value), starts_at: slot.starts_at });
      dialog.close();
    } catch (err) {
      error.textContent = err.message;  // taken meanwhile (409): show fresh times
      if (err.status === 409) await find().then(() => { error.textContent = err.message; });
    }
  }

  for (const input of [type, provider, day]) input.addEventListener("change", find);
  const content = types.length && providers.length
    ? [h("div", { class: "booking-form" }, h("label", {}, "Type ", type), h("label", {}, "Provider ", provider), h("label", {}, "Day ", day)),
       times, error]
    : [h("p", {}, "No providers or appointment types are set up for this location yet.")];
  const dialog = openDialog({ title: appointment ? "Reschedule appointment" : `Book ${c.contact.name}`, content,
    className: "booking", testId: "booking-dialog" });
  if (types.length && providers.length) find();
  await dialog.done;
  return result;
}
