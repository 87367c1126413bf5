// The form template builder (administrators): the practice's forms, and an editor for a form's draft
// version: sections, fields (kind, required, options, show-if, which record field it fills). Saving
// writes the draft (a new version when the newest one is published); publishing freezes it.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

const KINDS = [["text", "Text"], ["date", "Date"], ["phone", "Phone"], ["email", "E-mail"], ["choice", "Choice"],
  ["checkbox", "Checkbox"], ["signature", "Signature"], ["file", "File upload"]];
const MAPS = [["", "—"], ["first_name", "First name"], ["last_name", "Last name"], ["date_of_birth", "Date of birth"], ["email", "E-mail"],
  ["address_line1", "Address line 1"], ["address_line2", "Address line 2"], ["address_city", "City"],
  ["address_region", "State / region"], ["address_postal_code", "Postal code"], ["insurance_carrier", "Insurance carrier"],
  ["insurance_member_id", "Insurance member ID"], ["insurance_group_number", "Insurance group number"],
  ["insurance_card", "Insurance card photo"]];

/** A field key from its label: lower case, letters, digits and underscores, starting with a letter. */
export function keyFrom(label, taken) {
  let base = label.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 32);
  if (!/^[a-z]/.test(base)) base = `q_${base}`.slice(0, 32);
  let key = base;
  for (let n = 2; taken.has(key); n += 1) key = `${base}_${n}`;
  taken.add(key);
  return key;
}

function fieldRow(f, onChange) {
  const label = h("input", { value: f.label || "", "aria-label": "Question", required: true, maxlength: 200, onchange: onChange });
  const kind = h("select", { "aria-label": "Kind", onchange: onChange }, KINDS.map(([v, t]) => h("option", { value: v, selected: f.kind === v }, t)));
  const required = h("input", { type: "checkbox", checked: Boolean(f.required), "aria-label": "Required" });
  const options = h("input", { value: (f.options || []).join(", "), "aria-label": "Options (comma-separated)", placeholder: "Options, comma-separated" });
  const showField = h("select", { "aria-label": "Show only if" });
  const showEquals = h("input", { value: f.show_if ? String(f.show_if.equals) : "", "aria-label": "equals", placeholder: "value (yes/no for a checkbox)" });
  const maps = h("select", { "aria-label": "Fills in the record" }, MAPS.map(([v, t]) => h("option", { value: v, selected: (f.maps_to || "") === v }, t)));
  const row = h("li", { class: "builder-field" },
    h("div", { class: "row" }, label, kind, h("label", { class: "check" }, required, " Required")),
    h("div", { class: "row" }, options, h("label", {}, "Show only if ", showField, " = ", showEquals), h("label", {}, "Fills ", maps)),
    h("button", { type: "button", class: "link", onclick: () => { row.remove(); onChange(); } }, "Remove question"));
  row.state = { key: f.key || "", showIf: f.show_if || null };
  row.read = () => ({ label: label.value.trim(), kind: kind.value, required: required.checked,
    options: kind.value === "choice" ? options.value.split(",").map((o) => o.trim()).filter(Boolean) : [],
    showField: showField.value, showEquals: showEquals.value.trim(), maps: maps.value });
  row.refresh = (earlier) => {
    options.hidden = kind.value !== "choice";
    const current = showField.value || (row.state.showIf ? row.state.showIf.field : "");
    clear(showField).append(h("option", { value: "" }, "always"),
      ...earlier.map((e) => h("option", { value: e.key, selected: e.key === current }, e.label || e.key)));
  };
  return row;
}

function sectionEl(section, onChange) {
  const title = h("input", { value: section.title || "", "aria-label": "Section title", required: true, maxlength: 200 });
  const list = h("ol", { class: "builder-fields" }, (section.fields || []).map((f) => fieldRow(f, onChange)));
  const el = h("fieldset", { class: "builder-section" }, h("legend", {}, "Section"), title, list,
    h("button", { type: "button", onclick: () => { list.append(fieldRow({ kind: "text" }, onChange)); onChange(); } }, "Add question"),
    h("button", { type: "button", class: "link", onclick: () => { el.remove(); onChange(); } }, "Remove section"));
  el.read = () => ({ title: title.value.trim(), rows: [...list.children] });
  return el;
}

/** The definition the editor shows, in the API's shape (keys kept for questions that had one). */
function assignKeys(sectionsEl, all = false) {
  const taken = new Set();
  const rows = [...sectionsEl.children].flatMap((s) => s.read().rows);
  for (const row of rows) if (row.state.key) taken.add(row.state.key);
  // A key is fixed once its question has a label (answers and show-if conditions refer to it).
  for (const row of rows) if (!row.state.key && (all || row.read().label)) row.state.key = keyFrom(row.read().label || "question", taken);
  return rows;
}

function definitionOf(sectionsEl) {
  const rows = assignKeys(sectionsEl, true);
  const kinds = new Map(rows.map((r) => [r.state.key, r.read().kind]));
  return { sections: [...sectionsEl.children].map((s) => {
    const { title, rows: fieldRows } = s.read();
    return { title, fields: fieldRows.map((row) => {
      const v = row.read();
      const field = { key: row.state.key, label: v.label, kind: v.kind, required: v.required, options: v.options };
      if (v.maps) field.maps_to = v.maps;
      if (v.showField) {
        const yes = /^(yes|true|checked)$/i.test(v.showEquals);
        field.show_if = { field: v.showField, equals: kinds.get(v.showField) === "checkbox" ? yes : v.showEquals };
      }
      return field;
    }) };
  }) };
}

function editor(root, template, onDone) {
  const latest = template ? template.versions[template.versions.length - 1] : null;
  const definition = latest ? latest.definition : { sections: [{ title: "About you", fields: [{ kind: "text", label: "" }] }] };
  const name = h("input", { value: template ? template.name : "", "aria-label": "Form name", required: true, maxlength: 200, disabled: Boolean(template) });
  const error = h("p", { class: "error", role: "alert" });
  const status = h("p", { class: "muted", role: "status", "data-testid": "builder-status" },
    latest ? `Version ${latest.version}: ${latest.status === "published" ? "published (saving starts a new version)" : "draft"}` : "New form");
  const sections = h("div", { class: "builder-sections" });
  const refresh = () => {
    const earlier = [];
    for (const row of assignKeys(sections)) {
      row.refresh([...earlier]);
      if (row.state.key) earlier.push({ key: row.state.key, label: row.read().label });
    }
  };
  for (const s of definition.sections) sections.append(sectionEl(s, refresh));
  refresh();
  let current = template;
  const save = async () => {
    const body = { definition: definitionOf(sections) };
    current = current
      ? await api("PUT", `/api/v1/form-templates/${current.id}/draft`, body)
      : await api("POST", "/api/v1/form-templates", { name: name.value.trim(), ...body });
    const v = current.versions[current.versions.length - 1];
    status.textContent = `Version ${v.version}: draft saved`;
    return current;
  };
  const act = (fn) => async () => { error.textContent = ""; try { await fn(); } catch (err) { error.textContent = err.message; } };
  clear(root).append(h("form", { class: "builder", onsubmit: (e) => e.preventDefault() },
    h("label", {}, "Form name ", name), status, sections,
    h("button", { type: "button", onclick: () => { sections.append(sectionEl({ fields: [] }, refresh)); refresh(); } }, "Add section"),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: act(save) }, "Save draft"),
      h("button", { type: "button", onclick: act(async () => {
        await save();
        current = await api("POST", `/api/v1/form-templates/${current.id}/publish`);
        status.textContent = `Version ${current.versions[current.versions.length - 1].version}: published`;
      }) }, "Publish"),
      h("button", { type: "button", class: "link", onclick: onDone }, "Back to forms"))));
}

async function listing(root) {
  const templates = await api("GET", "/api/v1/form-templates");
  clear(root).append(
    h("ul", { class: "builder-list" }, templates.map((t) => {
      const v = t.versions[t.versions.length - 1];
      return h("li", {}, h("strong", {}, t.name), ` · version ${v.version} ${v.status}`,
        h("button", { type: "button", class: "link", onclick: () => editor(root, t, () => listing(root)) }, `Edit ${t.name}`));
    })),
    templates.length ? "" : h("p", { class: "muted" }, "No forms yet."),
    h("button", { type: "button", onclick: () => editor(root, null, () => listing(root)) }, "New form"));
}

/** The forms dialog (administrators). */
export function openFormBuilder() {
  const root = h("div", { class: "form-builder", "data-testid": "form-builder" }, h("p", { class: "muted" }, "Loading…"));
  const dialog = openDialog({ title: "Forms", content: root, className: "wide", testId: "forms-dialog" });
  listing(root).catch((err) => clear(root).append(h("p", { class: "error", role: "alert" }, err.message)));
  return dialog.done;
}
