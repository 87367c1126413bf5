// The audit report for admins: who read or changed which patient's records, filtered, paged, exported.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";

const ACTIONS = ["view", "update", "create", "send", "export", "merge", "merged_into", "search", "call", "cancel",
  "delete", "login", "receive", "resolve", "issue"];

/** A local calendar day (YYYY-MM-DD) as the instant its midnight is, with the zone spelled out. */
function dayStart(iso, plusDays = 0) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

export class AuditView {
  constructor(root, staff, { openPatient = null } = {}) {
    this.root = root;
    this.staff = staff;
    this.openPatient = openPatient;
    this.seq = 0;
    this.who = h("select", { name: "staff_id", "aria-label": "Staff member" },
      h("option", { value: "" }, "Anyone"),
      ...[...staff.values()].map((s) => h("option", { value: s.id }, s.name)));
    this.action = h("select", { name: "action", "aria-label": "Action" }, h("option", { value: "" }, "Any action"),
      ...ACTIONS.map((a) => h("option", { value: a }, a.replace("_", " "))));
    this.patient = h("input", { type: "number", name: "patient_id", min: "1", "aria-label": "Patient id",
      placeholder: "patient id" });
    this.since = h("input", { type: "date", name: "since", "aria-label": "Audit from" });
    this.until = h("input", { type: "date", name: "until", "aria-label": "Audit to" });
    this.error = h("p", { class: "error", role: "alert" });
    this.rows = h("tbody");
    this.more = h("button", { type: "button", hidden: true, onclick: () => this.load(true) }, "Older entries");
    this.exportLink = h("a", { href: "/api/v1/audit/export", download: "" }, "Export CSV");
    this.nextBefore = null;
    const form = h("form", { class: "report-controls", onsubmit: (ev) => { ev.preventDefault(); this.load(); } },
      this.who, this.action, this.patient, h("label", {}, "From ", this.since), h("label", {}, "To ", this.until),
      h("button", { type: "submit" }, "Filter"), this.exportLink);
    const table = this.table = h("table", { class: "audit", "data-testid": "audit-table" },
      h("thead", {}, h("tr", {}, ...["When", "Staff member", "Action", "Record", "Patient", "From"].map((t) => h("th", {}, t)))),
      this.rows);
    clear(root).append(h("h3", {}, "Audit report"), form, this.error, table, this.more);
  }

  params(before) {
    const q = new URLSearchParams();
    if (this.who.value) q.set("staff_id", this.who.value);
    if (this.action.value) q.set("action", this.action.value);
    if (this.patient.value) q.set("patient_id", this.patient.value);
    if (this.since.value) q.set("since", dayStart(this.since.value));
    if (this.until.value) q.set("until", dayStart(this.until.value, 1));  // the "to" day is included
    if (before) q.set("before_id", before);
    return q;
  }

  async load(older = false) {
    const seq = ++this.seq;
    this.error.textContent = "";
    this.table.dataset.state = "loading";
    const q = this.params(older ? this.nextBefore : null);
    this.exportLink.href = `/api/v1/audit/export?${this.params(null)}`;
    try {
      const page = await api("GET", `/api/v1/audit?${q}`);
      if (seq !== this.seq) return;
      if (!older) clear(this.rows);
      this.rows.append(...page.entries.map((e) => this.row(e)));
      if (!this.rows.children.length) this.rows.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No entries.")));
      this.nextBefore = page.next_before_id;
      this.more.hidden = !page.next_before_id;
    } catch (err) {
      if (seq === this.seq) this.error.textContent = err.message;
    } finally {
      if (seq === this.seq) this.table.dataset.state = "ready";
    }
  }

  row(e) {
    const patient = e.patient_id
      ? h("button", { type: "button", class: "link", title: "Only this patient's records",
        onclick: () => { this.patient.value = e.patient_id; this.load(); } }, e.patient_name || `#${e.patient_id}`)
      : "—";
    return h("tr", { "data-entry": e.id },
      h("td", {}, new Date(e.at).toLocaleString()),
      h("td", {}, e.staff_name || (e.staff_id ? `#${e.staff_id}` : "system")),
      h("td", {}, e.action.replace("_", " ")),
      h("td", {}, `${e.record_type.replace("_", " ")} ${e.record_id}`),
      h("td", {}, patient),
      h("td", {}, e.remote_addr || ""));
  }
}
