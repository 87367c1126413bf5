// Merging a duplicate patient into the one on screen: find the duplicate, read what will happen, confirm.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

function describe(c) {
  return [...c.phones, ...c.emails, c.date_of_birth ? `born ${c.date_of_birth}` : null].filter(Boolean).join(" · ");
}

/** Ask which record to fold into `keep` and merge it once confirmed; resolves with the result or null. */
export function openMerge(keep) {
  let result = null;
  const q = h("input", { type: "search", name: "merge_q", autocomplete: "off" });
  const found = h("ul", { class: "merge-results", "aria-label": "Records found" });
  const step = h("div", { class: "merge-step" });
  const error = h("p", { class: "error", role: "alert" });
  const searchForm = h("form", { role: "search", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (!q.value.trim()) return;
    try {
      const matches = (await api("POST", "/api/v1/contacts/search", { q: q.value.trim(), limit: 20 })).filter((c) => c.id !== keep.id);
      clear(found).append(...(matches.length ? matches.map((c) => h("li", {},
        h("button", { type: "button", dataset: { contact: c.id }, onclick: () => confirmStep(c) },
          h("strong", {}, c.name), h("span", { class: "muted" }, ` ${describe(c)}`)))) : [h("li", { class: "muted" }, "No other record matches.")]));
    } catch (err) {
      error.textContent = err.message;
    }
  } }, h("label", {}, "Name, phone or e-mail of the duplicate ", q), h("button", { type: "submit" }, "Find"));

  function confirmStep(dup) {
    const merge = h("button", { type: "button", class: "danger", onclick: async () => {
      merge.disabled = true;
      try {
        result = await api("POST", `/api/v1/contacts/${keep.id}/merge`, { merge_id: dup.id });
        clear(step).append(h("p", { role: "status" },
          `Merged. ${result.conversations_moved + result.conversations_folded} conversation(s) and ${result.items_moved} item(s) now belong to ${result.contact.display_name}.`),
        h("button", { type: "button", onclick: () => dialog.close() }, "Done"));
      } catch (err) {
        merge.disabled = false;
        error.textContent = err.message;
      }
    } }, `Merge ${dup.name} into ${keep.display_name}`);
    searchForm.hidden = true;
    found.hidden = true;
    clear(step).append(
      h("p", {}, `${dup.name}'s phone numbers, e-mails and conversations will move to ${keep.display_name}, `,
        `and the duplicate record (${describe(dup) || "no details"}) will be removed. This cannot be undone.`),
      h("div", { class: "actions" }, merge,
        h("button", { type: "button", onclick: () => { searchForm.hidden = false; found.hidden = false; clear(step); q.focus(); } }, "Back")));
    merge.focus();
  }

  const dialog = openDialog({
    title: `Merge a duplicate into ${keep.display_name}`,
    className: "merge",
    testId: "merge-dialog",
    content: [searchForm, found, step, error],
  });
  q.focus();
  return dialog.done.then(() => result);
}
