// Calendar set-up for admins: appointment types, providers with their working week and time off,
// holidays, reminder rules (with a preview of the text), and each provider's private calendar-feed link.
import { api } from "/static/api.js";
import { holidaysSection, timeOffPanel } from "/static/calendar_time_off.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

const DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];

function field(label, input) {
  return h("label", {}, `${label} `, input);
}

async function submitting(form, error, action) {
  error.textContent = "";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await action();
    form.reset();
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

function typesSection(redraw) {
  const list = h("ul", { class: "setup-list", "data-testid": "setup-types" });
  const name = h("input", { required: true, maxlength: 120 });
  const duration = h("input", { type: "number", min: 5, max: 480, value: 30, required: true });
  const buffer = h("input", { type: "number", min: 0, max: 240, value: 0 });
  const colour = h("input", { type: "color", value: "#4a90d9" });
  const online = h("input", { type: "checkbox" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "setup-form", "aria-label": "Add an appointment type", onsubmit: (e) => {
    e.preventDefault();
    submitting(form, error, async () => {
      await api("POST", "/api/v1/appointment-types", { name: name.value.trim(), duration_minutes: Number(duration.value),
        buffer_minutes: Number(buffer.value || 0), colour: colour.value, online: online.checked });
      await redraw();
    });
  } }, field("Type name", name), field("Minutes", duration), field("Buffer minutes", buffer), field("Colour", colour),
  h("label", { class: "check" }, online, " Patients may book it online"), h("button", { type: "submit" }, "Add type"), error);
  return { el: h("section", { "aria-label": "Appointment types" }, h("h3", {}, "Appointment types"), list, form),
    draw(types) {
      clear(list).append(...(types.length ? types.map((t) => h("li", {}, `${t.name} · ${t.duration_minutes} min`,
        t.buffer_minutes ? ` + ${t.buffer_minutes} min buffer` : "", t.online ? " · online" : "")) : [h("li", { class: "muted" }, "None yet.")]));
    } };
}

function providersSection(locations, redraw) {
  const list = h("ul", { class: "setup-list", "data-testid": "setup-providers" });
  const name = h("input", { required: true, maxlength: 120 });
  const where = locations.map((l) => h("input", { type: "checkbox", value: l.id, checked: locations.length === 1 }));
  const days = DAYS.map(([value]) => h("input", { type: "checkbox", value, checked: !["sat", "sun"].includes(value) }));
  const starts = h("input", { type: "time", value: "09:00", required: true });
  const ends = h("input", { type: "time", value: "17:00", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "setup-form", "aria-label": "Add a provider", onsubmit: (e) => {
    e.preventDefault();
    submitting(form, error, async () => {
      const locationIds = where.filter((c) => c.checked).map((c) => Number(c.value));
      if (!locationIds.length) throw new Error("choose at least one location");
      const provider = await api("POST", "/api/v1/providers", { name: name.value.trim(), location_ids: locationIds });
      const hours = locationIds.flatMap((location_id) => days.filter((d) => d.checked).map((d) => (
        { location_id, weekday: d.value, starts: starts.value, ends: ends.value })));
      await api("PUT", `/api/v1/providers/${provider.id}/hours`, { hours });
      await redraw();
    });
  } }, field("Provider name", name),
  h("fieldset", {}, h("legend", {}, "Sees patients at"), locations.map((l, i) => h("label", { class: "check" }, where[i], ` ${l.name}`))),
  h("fieldset", {}, h("legend", {}, "Working days"), DAYS.map(([, label], i) => h("label", { class: "check" }, days[i], ` ${label}`))),
  field("From", starts), field("Until", ends), h("button", { type: "submit" }, "Add provider"), error);
  return { el: h("section", { "aria-label": "Providers" }, h("h3", {}, "Providers"), list, form),
    draw(providers) {
      const names = new Map(locations.map((l) => [l.id, l.name]));
      clear(list).append(...(providers.length ? providers.map((p) => {
        const feed = h("span", { class: "feed" });
        const away = h("div", { hidden: true });
        const home = locations.find((l) => l.id === p.location_ids[0]) || locations[0];
        const awayButton = h("button", { type: "button", class: "link", "aria-expanded": "false", onclick: () => {
          const opening = away.hidden;
          if (opening && !away.firstChild) away.append(timeOffPanel(p, home));
          away.hidden = !opening;
          awayButton.setAttribute("aria-expanded", String(opening));
        } }, `Time off for ${p.name}`);
        return h("li", {}, `${p.name} · ${p.location_ids.map((id) => names.get(id) || id).join(", ")} `,
          h("button", { type: "button", class: "link", onclick: async () => {
            try {
              const made = await api("POST", `/api/v1/providers/${p.id}/feed`);
              clear(feed).append(h("input", { readonly: true, value: made.url, "aria-label": `Calendar feed for ${p.name}`, size: 40 }));
            } catch (err) { feed.textContent = err.message; }
          } }, "New calendar link"), feed, " ", awayButton, away);
      }) : [h("li", { class: "muted" }, "None yet.")]));
    } };
}

function remindersSection(redraw) {
  const list = h("ul", { class: "setup-list", "data-testid": "setup-reminders" });
  const amount = h("input", { type: "number", min: 1, max: 720, value: 2, required: true, "aria-label": "How long before" });
  const unit = h("select", { "aria-label": "Unit" }, h("option", { value: "1440" }, "days"), h("option", { value: "60" }, "hours"));
  const channel = h("select", { "aria-label": "Channel" }, h("option", { value: "sms" }, "text"), h("option", { value: "email" }, "e-mail"));
  const template = h("textarea", { rows: 3, maxlength: 640, required: true, "aria-label": "Message" },
    "Hi {first_name}, a reminder of your {type} with {provider} on {date} at {time}. Reply C to confirm or R to reschedule.");
  const quietFrom = h("input", { type: "time", value: "20:00", "aria-label": "Quiet from" });
  const quietUntil = h("input", { type: "time", value: "08:00", "aria-label": "Quiet until" });
  const preview = h("p", { class: "preview", "data-testid": "reminder-preview", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert" });
  const body = () => ({ minutes_before: Number(amount.value) * Number(unit.value), channel: channel.value, template: template.value,
    quiet_from: quietFrom.value || null, quiet_until: quietUntil.value || null });
  const form = h("form", { class: "setup-form", "aria-label": "Add a reminder", onsubmit: (e) => {
    e.preventDefault();
    submitting(form, error, async () => { await api("POST", "/api/v1/reminder-rules", body()); await redraw(); });
  } }, h("div", { class: "row" }, amount, unit, " before, by ", channel), template,
  h("p", { class: "hint" }, "Placeholders: {first_name} {practice} {location} {date} {time} {provider} {type}"),
  h("div", { class: "row" }, "Quiet between ", quietFrom, " and ", quietUntil),
  h("div", { class: "row" },
    h("button", { type: "button", onclick: async () => {
      error.textContent = "";
      try {
        const shown = await api("POST", "/api/v1/reminder-rules/preview", { template: template.value });
        preview.textContent = `${shown.text} (${shown.segments} text segment${shown.segments === 1 ? "" : "s"})`;
      } catch (err) { error.textContent = err.message; }
    } }, "Preview"),
    h("button", { type: "submit" }, "Add reminder")), preview, error);
  return { el: h("section", { "aria-label": "Reminders" }, h("h3", {}, "Reminders"), list, form),
    draw(rules) {
      const words = (m) => (m % 1440 === 0 ? `${m / 1440} day${m === 1440 ? "" : "s"}` : `${Math.round(m / 60)} hour${m === 60 ? "" : "s"}`);
      clear(list).append(...(rules.length ? rules.map((r) => h("li", {}, `${words(r.minutes_before)} before by ${r.channel === "email" ? "e-mail" : "text"}`,
        r.active ? "" : " (off)", h("div", { class: "muted" }, r.template))) : [h("li", { class: "muted" }, "None yet.")]));
    } };
}

/** Open the set-up dialog (admins). */
export async function openCalendarSetup() {
  const locations = await api("GET", "/api/v1/locations");
  async function redraw() {
    const [types, rules, ...perLocation] = await Promise.all([
      api("GET", "/api/v1/appointment-types"), api("GET", "/api/v1/reminder-rules"),
      ...locations.map((l) => api("GET", `/api/v1/locations/${l.id}/providers`)),
    ]);
    const providers = [...new Map(perLocation.flat().map((p) => [p.id, p])).values()];
    sections.types.draw(types);
    sections.providers.draw(providers);
    sections.reminders.draw(rules);
  }
  const sections = { types: typesSection(redraw), providers: providersSection(locations, redraw), reminders: remindersSection(redraw) };
  const dialog = openDialog({ title: "Calendar set-up", className: "setup-dialog", testId: "calendar-setup",
    content: [sections.types.el, sections.providers.el, holidaysSection(locations), sections.reminders.el] });
  await redraw();
  return dialog.done;
}
