// Snooze choices: an hour, tomorrow morning, next week, or a time staff choose (in the browser's time).
import { h } from "/static/dom.js";

const MORNING_HOUR = 8;

function at(date, days, hour) {
  const d = new Date(date);
  d.setDate(d.getDate() + days);
  d.setHours(hour, 0, 0, 0);
  return d;
}

/** The preset choices, each with the moment it ends, computed from `now`. */
export function snoozeChoices(now = new Date()) {
  const untilMonday = ((8 - now.getDay()) % 7) || 7;
  const short = (d) => d.toLocaleString([], { weekday: "short", hour: "numeric", minute: "2-digit" });
  const tomorrow = at(now, 1, MORNING_HOUR), nextWeek = at(now, untilMonday, MORNING_HOUR);
  return [
    { key: "hour", label: "For 1 hour", until: new Date(now.getTime() + 3600 * 1000) },
    { key: "tomorrow", label: `Until tomorrow morning (${short(tomorrow)})`, until: tomorrow },
    { key: "week", label: `Until next week (${short(nextWeek)})`, until: nextWeek },
  ];
}

/** A "Snooze" menu button; `onSnooze(date)` snoozes, and may reject with an error to show. */
export function snoozeMenu(onSnooze) {
  const button = h("button", { type: "button", class: "snooze", "aria-haspopup": "menu", "aria-expanded": "false" }, "Snooze ▾");
  const menu = h("div", { class: "menu", role: "menu", "aria-label": "Snooze until", hidden: true });
  const error = h("p", { class: "error", role: "alert" });
  const picker = h("input", { type: "datetime-local", name: "snooze_until", "aria-label": "Snooze until" });
  const custom = h("form", { class: "snooze-custom", hidden: true, novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const until = new Date(picker.value);
    if (!picker.value || Number.isNaN(until.getTime())) { error.textContent = "Choose a date and time."; return; }
    if (until <= new Date()) { error.textContent = "Choose a time in the future."; return; }
    choose(until);
  } }, h("label", {}, "Snooze until ", picker), h("button", { type: "submit" }, "Snooze"));
  const wrap = h("div", { class: "menu-wrap" }, button, menu);
  const outside = (e) => { if (!wrap.contains(e.target)) open(false); };
  const open = (show) => {
    menu.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    document.removeEventListener("click", outside);
    if (!show) return;
    setTimeout(() => document.addEventListener("click", outside));  // not the click that opened it
    custom.hidden = true;
    error.textContent = "";
    const now = new Date();
    menu.replaceChildren(
      ...snoozeChoices(now).map((c) => h("button", { type: "button", role: "menuitem", dataset: { snooze: c.key },
        onclick: () => choose(c.until) }, c.label)),
      h("button", { type: "button", role: "menuitem", dataset: { snooze: "custom" }, onclick: () => {
        custom.hidden = false;
        picker.min = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
        picker.focus();
      } }, "Until a chosen time…"),
      custom, error);
    menu.querySelector("[role=menuitem]").focus();
  };
  async function choose(until) {
    try {
      await onSnooze(until);
      open(false);
      custom.hidden = true;
      error.textContent = "";
    } catch (err) {
      error.textContent = err.message;
    }
  }
  button.addEventListener("click", () => open(menu.hidden));
  menu.addEventListener("keydown", (e) => {
    const items = [...menu.querySelectorAll("[role=menuitem]")];
    const index = items.indexOf(document.activeElement);
    if (e.key === "Escape") { e.preventDefault(); open(false); button.focus(); }
    else if (e.key === "ArrowDown" && index >= 0) { e.preventDefault(); items[(index + 1) % items.length].focus(); }
    else if (e.key === "ArrowUp" && index >= 0) { e.preventDefault(); items[(index - 1 + items.length) % items.length].focus(); }
  });
  wrap.addEventListener("focusout", (e) => { if (!wrap.contains(e.relatedTarget) && e.relatedTarget) open(false); });
  return wrap;
}
