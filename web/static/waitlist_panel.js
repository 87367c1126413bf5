// The thread's waitlist in the patient side panel: the patient's open entries (with the last day each
// stays on the list), expired ones (offered nothing until staff renew them), taking them off, and "Add to waitlist" (a type, optionally a provider, and the
// dates they could come).
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";

const STATE_WORDS = { waiting: "waiting", offered: "offered a time", expired: "expired" };

function shortDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString([], { month: "short", day: "numeric" });
}

/** A section with conversation `conversationId`'s waitlist entries and a form to add one. */
export function waitlistSection(conversationId) {
  const list = h("ul", { class: "appointments", "data-testid": "waitlist-entries" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "waitlist-add", hidden: true });
  const add = h("button", { type: "button", class: "link", onclick: () => openForm() }, "Add to waitlist");
  const section = h("section", { class: "panel-appointments", "aria-label": "Waitlist" },
    h("h3", {}, "Waitlist"), list, add, form, error);

  async function draw() {
    let rows;
    try {
      rows = await api("GET", `/api/v1/conversations/${conversationId}/waitlist`);
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    clear(list).append(...(rows.length ? rows.map((e) => h("li", { dataset: { entry: e.id, state: e.state } },
      h("strong", {}, e.type_name), e.provider_name ? ` with ${e.provider_name}` : " with anyone",
      `, ${shortDate(e.earliest)} to ${shortDate(e.latest)} `,
      h("span", { class: `tag${e.state === "expired" ? " expired" : ""}` }, STATE_WORDS[e.state] || e.state),
      h("div", { class: "muted", "data-testid": "waitlist-expiry" },
        e.state === "expired" ? `Expired after ${shortDate(e.last_day)}: offered nothing until renewed` : `On the list until ${shortDate(e.last_day)}`),
      h("div", { class: "actions" }, e.state === "expired" ? renewControls(e) : h("button", { type: "button", class: "link",
        "aria-label": `Remove from the waitlist: ${e.type_name}`, onclick: () => remove(e) }, "Remove"))))
      : [h("li", { class: "muted" }, "Not on the waitlist.")]));
  }

  async function openForm() {
    error.textContent = "";
    let types;
    try {
      types = await api("GET", "/api/v1/appointment-types");
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    const today = new Date().toISOString().slice(0, 10);
    const type = h("select", { name: "type_id", "aria-label": "Appointment type", required: true },
      types.filter((t) => t.active !== false).map((t) => h("option", { value: t.id }, t.name)));
    const earliest = h("input", { type: "date", name: "earliest", "aria-label": "Earliest date", value: today, required: true });
    const latest = h("input", { type: "date", name: "latest", "aria-label": "Latest date", required: true });
    clear(form).append(type, earliest, latest,
      h("button", { type: "submit" }, "Add"),
      h("button", { type: "button", class: "link", onclick: () => { form.hidden = true; add.hidden = false; } }, "Cancel"));
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        await api("POST", `/api/v1/conversations/${conversationId}/waitlist`,
          { type_id: Number(type.value), earliest: earliest.value, latest: latest.value });
        form.hidden = true;
        add.hidden = false;
        await draw();
      } catch (err) {
        error.textContent = err.message;
      }
    };
    form.hidden = false;
    add.hidden = true;
    type.focus();
  }

  // Renewing keeps the entry's dates while they are still to come; past ones must be chosen again.
  function renewControls(e) {
    const today = new Date().toISOString().slice(0, 10);
    const earliest = h("input", { type: "date", "aria-label": "Earliest date", value: e.earliest < today ? today : e.earliest, required: true });
    const latest = h("input", { type: "date", "aria-label": "Latest date", value: e.latest < today ? "" : e.latest, required: true });
    const renewForm = h("form", { class: "waitlist-renew" }, earliest, latest,
      h("button", { type: "submit", "aria-label": `Renew on the waitlist: ${e.type_name}` }, "Renew"));
    renewForm.onsubmit = async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        await api("POST", `/api/v1/waitlist/${e.id}/renew`, { earliest: earliest.value, latest: latest.value });
        await draw();
      } catch (err) {
        error.textContent = err.message;
      }
    };
    return renewForm;
  }

  async function remove(e) {
    error.textContent = "";
    try {
      await api("DELETE", `/api/v1/waitlist/${e.id}`);
      await draw();
    } catch (err) {
      error.textContent = err.message;
    }
  }

  section.refresh = draw;
  draw();
  return section;
}
