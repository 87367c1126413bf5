// "Who wrote this?": a text from a number several patients share can be moved to the one who wrote it.
import { api } from "/static/api.js";
import { h } from "/static/dom.js";

/** The patient ids an inbound item could be from (empty unless its number is shared). */
export function householdOf(item) {
  const listed = (item.meta || {}).household;
  return item.direction === "in" && Array.isArray(listed) && listed.length > 1 ? listed : [];
}

/**
 * The chooser under item `item`; `contactId` is the thread's patient, `names()` resolves to a Map of
 * patient id to name, `onMoved(result)` is told where the item went.
 */
export function householdChooser(item, { contactId, names, onMoved }) {
  const members = householdOf(item);
  if (!members.length) return null;
  const toggle = h("button", { type: "button", class: "link", "aria-expanded": "false" }, "Who wrote this?");
  const panel = h("form", { class: "chooser", hidden: true, "aria-label": "Who wrote this?" });
  toggle.addEventListener("click", async () => {
    const opening = panel.hidden;
    panel.hidden = !opening;
    toggle.setAttribute("aria-expanded", String(opening));
    if (opening) await fill();
  });
  async function fill() {
    const known = await names(members);
    const group = `writer-${item.id}`;
    const error = h("p", { class: "error", role: "alert" });
    const later = h("input", { type: "checkbox", name: "include_later" });
    const choices = members.map((id) => h("label", { class: "choice" },
      h("input", { type: "radio", name: group, value: id, checked: id === contactId }),
      ` ${known.get(id) || `Patient #${id}`}${id === contactId ? " (this thread)" : ""}`));
    panel.replaceChildren(
      h("fieldset", {}, h("legend", {}, "Several patients share this number. Who wrote this?"), choices),
      h("label", { class: "choice" }, later, " Also move their later texts from this number"),
      h("button", { type: "submit" }, "Move to this patient"), error);
    panel.onsubmit = async (e) => {
      e.preventDefault();
      const chosen = Number(panel.querySelector(`input[name="${group}"]:checked`)?.value);
      if (!chosen || chosen === contactId) { error.textContent = "Choose the patient who wrote it."; return; }
      try {
        const result = await api("POST", `/api/v1/items/${item.id}/move`, { contact_id: chosen, include_later: later.checked });
        onMoved(result);
      } catch (err) {
        error.textContent = err.message;
      }
    };
  }
  return h("div", { class: "household" }, h("span", { class: "item-status" }, "Shared family number · "), toggle, panel);
}
