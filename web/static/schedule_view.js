// The schedule: a location's day (one column per provider) or week (one column per day), in the
// location's own time, kept live as bookings change; a visit opens the patient's thread.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

const STATUS_WORDS = { scheduled: "scheduled", confirmed: "confirmed", checked_in: "checked in", completed: "completed", no_show: "no-show" };

function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function parseDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d);
}

function addDays(iso, n) {
  const d = parseDay(iso);
  d.setDate(d.getDate() + n);
  return isoDay(d);
}

function clock(hh, mm) {
  return `${hh % 12 || 12}:${String(mm).padStart(2, "0")} ${hh < 12 ? "AM" : "PM"}`;
}

// "9:00 AM–9:30 AM" on the location's wall clock (from its local ISO start and the visit's length).
function span(a) {
  const [hh, mm] = a.local_start.slice(11, 16).split(":").map(Number);
  const minutes = hh * 60 + mm + Math.round((new Date(a.ends_at) - new Date(a.starts_at)) / 60000);
  return `${clock(hh, mm)}–${clock(Math.floor(minutes / 60) % 24, minutes % 60)}`;
}

function dayLabel(iso) {
  return parseDay(iso).toLocaleDateString([], { weekday: "short", month: "short", day: "numeric" });
}

/** Open the schedule; `onOpen(conversationId)` shows a thread. Returns { onEvent } while it is open. */
export function openSchedule({ onOpen }) {
  const location = h("select", { "aria-label": "Location" });
  const provider = h("select", { "aria-label": "Provider" }, h("option", { value: "" }, "All providers"));
  const mode = h("select", { "aria-label": "View" }, h("option", { value: "day" }, "Day"), h("option", { value: "week" }, "Week"));
  const day = h("input", { type: "date", "aria-label": "Date", value: isoDay(new Date()) });
  const step = (n) => { day.value = addDays(day.value, mode.value === "week" ? 7 * n : n); draw(); };
  const grid = h("div", { class: "schedule-grid", "data-testid": "schedule-grid" });
  const error = h("p", { class: "error", role: "alert" });
  // The location's public booking page, to share with patients (it says when online booking is off).
  const bookingLink = h("a", { class: "booking-link", target: "_blank", rel: "noopener" }, "Patients' booking page");
  let providers = [];
  let asked = 0;

  async function loadProviders() {
    providers = location.value ? await api("GET", `/api/v1/locations/${location.value}/providers`) : [];
    clear(provider).append(h("option", { value: "" }, "All providers"), ...providers.map((p) => h("option", { value: p.id }, p.name)));
  }

  function range() {
    if (mode.value === "day") return [day.value, day.value];
    const d = parseDay(day.value);
    const monday = addDays(day.value, -((d.getDay() + 6) % 7));
    return [monday, addDays(monday, 6)];
  }

  function visit(a, { showProvider }) {
    return h("li", { class: `visit status-${a.status}`, dataset: { appointment: a.id } },
      h("button", { type: "button", class: "link", onclick: () => { dialog.close(); onOpen(a.conversation_id); } },
        h("strong", {}, span(a)), ` ${a.contact_name}`),
      h("div", { class: "muted" }, a.type_name, showProvider ? ` · ${a.provider_name}` : "", ` · ${STATUS_WORDS[a.status] || a.status}`));
  }

  function column(title, rows, options) {
    return h("section", { class: "schedule-column", "aria-label": title }, h("h3", {}, title),
      h("ul", {}, rows.length ? rows.map((a) => visit(a, options)) : h("li", { class: "muted" }, "Nothing booked.")));
  }

  async function draw() {
    error.textContent = "";
    if (!location.value || !day.value) return;
    const mine = ++asked;
    const [from, to] = range();
    const q = new URLSearchParams({ date_from: from, date_to: to });
    if (provider.value) q.set("provider_id", provider.value);
    let rows;
    try {
      rows = await api("GET", `/api/v1/locations/${location.value}/appointments?${q}`);
    } catch (err) {
      if (mine === asked) error.textContent = err.message;
      return;
    }
    if (mine !== asked) return;  // a later choice is being drawn
    let columns;
    if (mode.value === "day") {
      const shown = provider.value ? providers.filter((p) => String(p.id) === provider.value) : providers;
      columns = shown.map((p) => column(p.name, rows.filter((a) => a.provider_id === p.id), { showProvider: false }));
    } else {
      columns = [...Array(7).keys()].map((i) => {
        const date = addDays(from, i);
        return column(dayLabel(date), rows.filter((a) => a.local_start.slice(0, 10) === date), { showProvider: !provider.value });
      });
    }
    clear(grid).append(...columns);
    grid.dataset.mode = mode.value;
  }

  location.addEventListener("change", async () => { bookingLink.href = `/book/${location.value}`; await loadProviders(); draw(); });
  for (const input of [provider, mode, day]) input.addEventListener("change", draw);
  const controls = h("div", { class: "schedule-controls" }, location, provider, mode,
    h("button", { type: "button", "aria-label": "Earlier", onclick: () => step(-1) }, "‹"), day,
    h("button", { type: "button", "aria-label": "Later", onclick: () => step(1) }, "›"),
    h("button", { type: "button", onclick: () => { day.value = isoDay(new Date()); draw(); } }, "Today"),
    bookingLink);
  const dialog = openDialog({ title: "Schedule", content: [controls, error, grid], className: "schedule-dialog", testId: "schedule" });
  api("GET", "/api/v1/locations").then(async (locations) => {
    location.append(...locations.map((l) => h("option", { value: l.id }, l.name)));
    bookingLink.href = `/book/${location.value}`;
    await loadProviders();
    await draw();
  }).catch((err) => { error.textContent = err.message; });
  return {
    done: dialog.done,
    /** A booking changed somewhere: redraw when it is at the location shown. */
    onEvent(event) {
      if (event.type === "timeline.item_added" && event.item.kind === "appointment" && String(event.location_id) === location.value) draw();
    },
  };
}
