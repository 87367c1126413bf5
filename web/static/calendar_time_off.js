// Time off per provider and holidays per location, for the calendar set-up dialog: list, add, remove.
// Times are the location's wall clock (whatever the browser's zone), turned into instants here.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";

// Minutes the zone is ahead of UTC at an instant, read from the browser's own time-zone tables.
function offsetMinutes(timeZone, utcMs) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return Math.round((wall - utcMs) / 60000);
}

/** "2027-03-15T09:00" on a zone's wall clock as an ISO instant (a second pass settles DST edges). */
export function zonedInstant(localValue, timeZone) {
  const [date, time] = localValue.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let instant = wall - offsetMinutes(timeZone, wall) * 60000;
  instant = wall - offsetMinutes(timeZone, instant) * 60000;
  return new Date(instant).toISOString();
}

function wallText(iso, timeZone) {
  return new Date(iso).toLocaleString([], { timeZone, weekday: "short", month: "short", day: "numeric",
    hour: "numeric", minute: "2-digit" });
}

function labelled(text, input) {
  return h("label", {}, `${text} `, input);
}

function removeButton(label, action, error) {
  return h("button", { type: "button", class: "link", "aria-label": label, onclick: async () => {
    error.textContent = "";
    try { await action(); } catch (err) { error.textContent = err.message; }
  } }, "Remove");
}

/** A provider's time off still to come, at the wall clock of `location` (their first location). */
export function timeOffPanel(provider, location) {
  const list = h("ul", { class: "setup-list", "data-testid": "time-off-list" });
  const starts = h("input", { type: "datetime-local" });
  const ends = h("input", { type: "datetime-local" });
  const reason = h("input", { maxlength: 80, placeholder: "optional" });
  const error = h("p", { class: "error", role: "alert" });
  const tz = location.timezone;
  async function draw() {
    const rows = await api("GET", `/api/v1/providers/${provider.id}/time-off`);
    clear(list).append(...(rows.length ? rows.map((r) => h("li", {},
      `${wallText(r.starts_at, tz)} – ${wallText(r.ends_at, tz)}`, r.reason ? ` · ${r.reason}` : "", " ",
      removeButton(`Remove time off from ${wallText(r.starts_at, tz)}`, async () => {
        await api("DELETE", `/api/v1/time-off/${r.id}`);
        await draw();
      }, error))) : [h("li", { class: "muted" }, "No time off coming up.")]));
  }
  const form = h("form", { class: "setup-form", "aria-label": `Add time off for ${provider.name}`, onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (!starts.value || !ends.value) { error.textContent = "Choose when the time off starts and when it ends."; return; }
    if (ends.value <= starts.value) { error.textContent = "The time off must end after it starts."; return; }
    try {
      await api("POST", `/api/v1/providers/${provider.id}/time-off`,
        { starts_at: zonedInstant(starts.value, tz), ends_at: zonedInstant(ends.value, tz), reason: reason.value.trim() });
      form.reset();
      await draw();
    } catch (err) { error.textContent = err.message; }
  } }, labelled("Away from", starts), labelled("Back at", ends), labelled("Reason", reason),
  h("button", { type: "submit" }, "Add time off"), error);
  const el = h("div", { class: "time-off", role: "group", "aria-label": `Time off for ${provider.name}` },
    h("p", { class: "hint" }, `Times at ${location.name} (${tz}). Visits already booked then stay; new ones are refused.`),
    list, form);
  draw().catch((err) => { error.textContent = err.message; });
  return el;
}

/** Each location's holidays: dates it takes no bookings. */
export function holidaysSection(locations) {
  const el = h("section", { "aria-label": "Holidays" }, h("h3", {}, "Holidays"));
  for (const location of locations) {
    const list = h("ul", { class: "setup-list", "data-testid": `holidays-${location.id}` });
    const date = h("input", { type: "date" });
    const name = h("input", { maxlength: 80, value: "Holiday" });
    const error = h("p", { class: "error", role: "alert" });
    async function draw() {
      const rows = await api("GET", `/api/v1/locations/${location.id}/holidays`);
      clear(list).append(...(rows.length ? rows.map((r) => h("li", {}, `${r.date} · ${r.name} `,
        removeButton(`Remove holiday ${r.date}`, async () => {
          await api("DELETE", `/api/v1/holidays/${r.id}`);
          await draw();
        }, error))) : [h("li", { class: "muted" }, "No holidays.")]));
    }
    const form = h("form", { class: "setup-form", "aria-label": `Add a holiday at ${location.name}`, onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      if (!date.value) { error.textContent = "Choose the date of the holiday."; return; }
      if (!name.value.trim()) { error.textContent = "Give the holiday a name."; return; }
      try {
        await api("POST", `/api/v1/locations/${location.id}/holidays`, { date: date.value, name: name.value.trim() });
        date.value = "";
        await draw();
      } catch (err) { error.textContent = err.message; }
    } }, labelled("Date", date), labelled("Holiday name", name), h("button", { type: "submit" }, "Add holiday"), error);
    el.append(h("div", { role: "group", "aria-label": `Holidays at ${location.name}` }, h("h4", {}, location.name), list, form));
    draw().catch((err) => { error.textContent = err.message; });
  }
  return el;
}
