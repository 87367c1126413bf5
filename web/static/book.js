// The patients' booking page: choose a visit and a day, pick an open time (the practice's own
// time), give a name and mobile number, and book; a text then asks to confirm.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";

const root = document.getElementById("book");
const locationId = Number(location.pathname.split("/").pop());

function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function clock(localIso) {
  const [hh, mm] = localIso.slice(11, 16).split(":").map(Number);
  return `${hh % 12 || 12}:${String(mm).padStart(2, "0")} ${hh < 12 ? "AM" : "PM"}`;
}

async function start() {
  let offer;
  try {
    offer = await api("GET", `/api/v1/public/locations/${locationId}`);
  } catch {
    clear(root).append(h("h1", {}, "Online booking is not available here"),
      h("p", {}, "Please call the practice to book."));
    return;
  }
  const names = new Map(offer.providers.map((p) => [p.id, p.name]));
  const type = h("select", { "aria-label": "Visit" }, offer.types.map((t) => h("option", { value: t.id }, `${t.name} (${t.duration_minutes} min)`)));
  const provider = h("select", { "aria-label": "With" }, h("option", { value: "" }, "Anyone"),
    offer.providers.map((p) => h("option", { value: p.id }, p.name)));
  const day = h("input", { type: "date", "aria-label": "Day", value: isoDay(new Date()), min: isoDay(new Date()) });
  const times = h("div", { class: "slots", role: "group", "aria-label": "Open times", "data-testid": "public-slots" });
  const first = h("input", { name: "first_name", autocomplete: "given-name", required: true, maxlength: 100 });
  const last = h("input", { name: "last_name", autocomplete: "family-name", required: true, maxlength: 100 });
  const phone = h("input", { name: "phone", type: "tel", autocomplete: "tel", required: true, maxlength: 30 });
  const chosenText = h("p", { class: "chosen", "data-testid": "chosen" }, "Pick a time above.");
  const error = h("p", { class: "error", role: "alert" });
  let chosen = null;
  let asked = 0;

  async function find() {
    chosen = null;
    chosenText.textContent = "Pick a time above.";
    const mine = ++asked;
    clear(times).append(h("p", { class: "muted" }, "Looking…"));
    const q = new URLSearchParams({ type_id: type.value, date_from: day.value, date_to: day.value });
    if (provider.value) q.set("provider_id", provider.value);
    try {
      const slots = await api("GET", `/api/v1/public/locations/${locationId}/slots?${q}`);
      if (mine !== asked) return;
      clear(times).append(...(slots.length ? slots.map((s) => h("button", { type: "button", class: "slot",
        "aria-label": `${clock(s.local_start)} with ${names.get(s.provider_id)}`, onclick: (e) => {
          chosen = s;
          for (const b of times.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === e.currentTarget));
          chosenText.textContent = `${clock(s.local_start)} with ${names.get(s.provider_id)}`;
        } }, clock(s.local_start))) : [h("p", { class: "muted" }, "No open times that day; try another.")]));
    } catch (err) {
      if (mine === asked) { clear(times); error.textContent = err.message; }
    }
  }

  const form = h("form", { class: "book-form", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (!chosen) { error.textContent = "Pick a time first."; return; }
    try {
      const done = await api("POST", `/api/v1/public/locations/${locationId}/appointments`, {
        type_id: Number(type.value), provider_id: chosen.provider_id, starts_at: chosen.starts_at,
        first_name: first.value, last_name: last.value, phone: phone.value,
      });
      clear(root).append(h("h1", {}, "You're booked"),
        h("p", { "data-testid": "booked" }, `${done.type_name} with ${done.provider_name} at ${done.location_name}, ${done.when}.`),
        h("p", {}, done.texted ? "We've texted you: reply C to confirm." : "Please call us to confirm."));
    } catch (err) {
      error.textContent = err.message;
      if (err.status === 409) find().then(() => { error.textContent = err.message; });
    }
  } },
  h("label", {}, "First name ", first), h("label", {}, "Last name ", last), h("label", {}, "Mobile number ", phone),
  chosenText, error, h("button", { type: "submit" }, "Book"));

  for (const input of [type, provider, day]) input.addEventListener("change", find);
  clear(root).append(h("h1", {}, `Book at ${offer.name}`),
    h("div", { class: "booking-form" }, h("label", {}, "Visit ", type), h("label", {}, "With ", provider), h("label", {}, "Day ", day)),
    times, form);
  find();
}

start();
