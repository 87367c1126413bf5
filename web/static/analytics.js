// The reports view: how the office did over a range of days at one location, drawn as charts, with
// a drill-down from each figure to the conversations behind it, and CSV of every table.
import { api } from "/static/api.js";
import { AuditView } from "/static/audit_view.js";
import { barChart, hbarChart, legend } from "/static/charts.js";
import { clear, h } from "/static/dom.js";

const TABLES = [
  ["phones", "Summary"], ["phone_days", "Calls by day"], ["channels", "Messages by channel"],
  ["message_days", "Messages by day"], ["staff", "Staff"], ["appointments", "Appointments"],
  ["payments", "Payments"], ["reviews", "Reviews"],
];
const DRILL_SHOWN = 25;

function isoDay(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function daysBefore(iso, days) {
  const [y, m, d] = iso.split("-").map(Number);
  return isoDay(new Date(y, m - 1, d - days));
}

/** Seconds as words a manager reads at a glance: "45 s", "12 min", "2 h 5 min". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}%`;
}

function shortDay(iso) {
  const [, m, d] = iso.split("-").map(Number);
  return `${m}/${d}`;
}

export class Dashboard {
  constructor(root, session, { openConversation, staff = new Map() }) {
    this.root = root;
    this.session = session;
    this.openConversation = openConversation;
    this.locations = [];
    this.figures = null;
    this.seq = 0;
    const today = isoDay(new Date());
    this.location = h("select", { name: "location", "aria-label": "Location" });
    this.start = h("input", { type: "date", name: "start", value: daysBefore(today, 6), "aria-label": "From" });
    this.end = h("input", { type: "date", name: "end", value: today, "aria-label": "To" });
    this.error = h("p", { class: "error", role: "alert" });
    this.body = h("div", { class: "report-body", "data-testid": "report-body" });
    this.drill = h("section", { class: "drill", "aria-label": "Conversations behind the figure", hidden: true });
    const presets = [7, 30, 90].map((n) => h("button", { type: "button", onclick: () => this.preset(n) }, `Last ${n} days`));
    const form = h("form", { class: "report-controls", onsubmit: (ev) => { ev.preventDefault(); this.load(); } },
      h("label", {}, "Location ", this.location), h("label", {}, "From ", this.start), h("label", {}, "To ", this.end),
      h("button", { type: "submit" }, "Show"), ...presets);
    this.location.addEventListener("change", () => this.load());
    const auditRoot = h("section", { class: "report-part audit-part", "aria-label": "Audit report" });
    this.audit = session.role === "admin" ? new AuditView(auditRoot, staff) : null;
    clear(root).append(h("h2", {}, "How did we do"), form, this.error, this.body, this.drill,
      this.audit ? auditRoot : null);
  }

  preset(days) {
    const end = isoDay(new Date());
    this.end.value = end;
    this.start.value = daysBefore(end, days - 1);
    return this.load();
  }

  /** Called when the view is shown: locations once, then the figures for the chosen range. */
  async show() {
    if (!this.locations.length) {
      this.locations = await api("GET", "/api/v1/locations");
      clear(this.location).append(...this.locations.map((l) => h("option", { value: l.id }, l.name)));
    }
    if (this.audit && !this.auditLoaded) {
      this.auditLoaded = true;
      this.audit.load();
    }
    if (!this.figures) await this.load();
  }

  params(extra = {}) {
    return new URLSearchParams({ location_id: this.location.value, start: this.start.value, end: this.end.value, ...extra });
  }

  async load() {
    const seq = ++this.seq;
    this.error.textContent = "";
    this.drill.hidden = true;
    this.root.dataset.state = "loading";
    try {
      const figures = await api("GET", `/api/v1/analytics/figures?${this.params()}`);
      if (seq !== this.seq) return;  // a later range was asked for meanwhile
      this.figures = figures;
      this.render(figures);
    } catch (err) {
      if (seq === this.seq) this.error.textContent = err.message;
    } finally {
      if (seq === this.seq) this.root.dataset.state = "ready";
    }
  }

  tile(label, value, figure, hint) {
    const attrs = { class: "tile", "data-figure": figure || "", title: hint || null };
    if (!figure) return h("div", attrs, h("span", { class: "value" }, value), h("span", { class: "label" }, label));
    return h("button", { ...attrs, type: "button", onclick: () => this.drillDown(figure, label) },
      h("span", { class: "value" }, value), h("span", { class: "label" }, label));
  }

  render(f) {
    const p = f.phones;
    const m = f.messages;
    const days = p.days.map((d) => shortDay(d.date));
    const callSeries = [
      { key: "answered", name: "Answered", cls: "a", values: p.days.map((d) => d.answered) },
      { key: "missed", name: "Missed", cls: "b", values: p.days.map((d) => d.missed) },
    ];
    const messageSeries = [
      { key: "inbound", name: "In", cls: "a", values: m.days.map((d) => d.inbound) },
      { key: "outbound", name: "Out", cls: "c", values: m.days.map((d) => d.outbound) },
    ];
    // A bar drills down to that one day's conversations.
    const pick = (series, label, i) => this.drillDown(series.key, `${series.name}, ${label}`, null, p.days[i].date);
    const staffRows = f.staff.map((r) => ({ label: r.name, value: r.conversations }));
    clear(this.body).append(
      h("section", { class: "report-part", "aria-label": "Phones" },
        h("h3", {}, "Phones"),
        h("div", { class: "tiles" },
          this.tile("Calls", p.calls, "calls"),
          this.tile("Answered", p.answered, "answered"),
          this.tile("Answer rate", percent(p.answer_rate), null, "answered of inbound calls that ended"),
          this.tile("Missed", p.missed, "missed"),
          this.tile("Recovered", `${p.recovered} (${percent(p.recovery_rate)})`, "recovered",
            "missed calls followed within a day by a reply, a call or a booking"),
          this.tile("Not recovered", p.missed - p.recovered, "unrecovered"),
          this.tile("Average wait", duration(p.average_wait_seconds), null, "from ring to answer"),
          this.tile("Voicemails", p.voicemails, "voicemails")),
        legend(callSeries),
        barChart({ title: "Calls by day", labels: days, series: callSeries, onPick: pick })),
      h("section", { class: "report-part", "aria-label": "Messages" },
        h("h3", {}, "Messages"),
        h("div", { class: "tiles" },
          ...m.channels.map((c) => this.tile(c.channel === "sms" ? "Texts in / out" : "E-mails in / out",
            `${c.inbound} / ${c.outbound}`, null)),
          this.tile("Received", m.inbound, "inbound"),
          this.tile("Sent", m.outbound, "outbound"),
          this.tile("First response (median)", duration(m.first_response.median_seconds), "responded",
            "business hours only"),
          this.tile("First response (90%)", duration(m.first_response.p90_seconds), "responded",
            "business hours only"),
          this.tile("Unanswered", m.unanswered, "unanswered")),
        legend(messageSeries),
        barChart({ title: "Messages by day", labels: days, series: messageSeries, onPick: pick })),
      this.visits(f),
      h("section", { class: "report-part", "aria-label": "Staff" },
        h("h3", {}, "Staff"),
        staffRows.length ? hbarChart({ title: "Conversations handled", rows: staffRows }) : h("p", { class: "muted" }, "No staff activity in this range."),
        this.staffTable(f.staff)),
      h("section", { class: "report-part", "aria-label": "Exports" },
        h("h3", {}, "Export"),
        h("p", { class: "exports" }, ...TABLES.map(([table, name]) =>
          h("a", { href: `/api/v1/analytics/export?${this.params({ table })}`, download: "" }, `${name} (CSV)`)))),
    );
  }

  visits(f) {
    const a = f.appointments;
    const r = f.reviews;
    const money = (cents, currency) => (cents / 100).toLocaleString([], { style: "currency", currency: currency.toUpperCase() });
    const payments = f.payments.length ? f.payments.flatMap((t) => [
      this.tile(`Requested (${t.currency.toUpperCase()})`, `${t.requested} · ${money(t.requested_cents, t.currency)}`, null),
      this.tile("Collected", money(t.collected_cents, t.currency), null, "received in this range"),
      this.tile("Days to pay (median)", t.median_days_to_pay === null ? "—" : `${t.median_days_to_pay} d`, null),
      this.tile("Outstanding", `${t.outstanding} · ${money(t.outstanding_cents, t.currency)}`, "outstanding",
        "requests from this range still open"),
    ]) : [this.tile("Payment requests", 0, null)];
    return h("section", { class: "report-part", "aria-label": "Appointments and payments" },
      h("h3", {}, "Appointments, payments, reviews"),
      h("div", { class: "tiles" },
        this.tile("Booked", a.booked, "booked", "appointments made in this range"),
        this.tile("Self-scheduled", a.self_scheduled, null),
        this.tile("Waitlist fills", a.waitlist_fills, "waitlist_fills", "freed slots taken from the waitlist"),
        this.tile("Visits", a.visits, null, "appointments in this range, cancellations aside"),
        this.tile("Confirmed", percent(a.confirmed_rate), null),
        this.tile("No-shows", `${a.no_shows} (${percent(a.no_show_rate)})`, "no_shows"),
        this.tile("Cancelled", a.cancelled, null)),
      h("div", { class: "tiles" }, ...payments),
      h("div", { class: "tiles" },
        this.tile("Reviews requested", r.requested, null),
        this.tile("Review links clicked", `${r.clicked} (${percent(r.click_rate)})`, "reviews_clicked")));
  }

  staffTable(rows) {
    if (!rows.length) return null;
    return h("table", { class: "staff-figures" },
      h("thead", {}, h("tr", {}, h("th", {}, "Staff member"), h("th", {}, "Conversations"), h("th", {}, "Calls answered"),
        h("th", {}, "Messages sent"))),
      h("tbody", {}, ...rows.map((r) => h("tr", {},
        h("td", {}, h("button", { type: "button", class: "link", "data-figure": "staff", "data-staff": r.user_id,
          onclick: () => this.drillDown("staff", r.name, r.user_id) }, r.name)),
        h("td", {}, r.conversations), h("td", {}, r.calls_answered), h("td", {}, r.messages_sent)))));
  }

  /** The conversations behind a figure: ids from the server, then each one's summary (up to 25). */
  async drillDown(figure, label, staffId, day) {
    const extra = { figure };
    if (staffId) extra.staff_id = staffId;
    if (day) Object.assign(extra, { start: day, end: day });
    const seq = this.seq;
    this.drill.hidden = false;
    clear(this.drill).append(h("h3", {}, label), h("p", { class: "muted" }, "Loading…"));
    try {
      const { conversation_ids: ids } = await api("GET", `/api/v1/analytics/drilldown?${this.params(extra)}`);
      const shown = ids.slice(0, DRILL_SHOWN);
      const summaries = await Promise.all(shown.map((id) =>
        api("GET", `/api/v1/conversations/${id}`).catch(() => ({ id, contact: { name: `Conversation ${id}` } }))));
      if (seq !== this.seq) return;
      const close = h("button", { type: "button", onclick: () => { this.drill.hidden = true; } }, "Close");
      const list = h("ul", { class: "drill-list", "data-testid": "drill-list" }, ...summaries.map((c) =>
        h("li", { "data-conversation": c.id },
          h("button", { type: "button", class: "link", onclick: () => this.openConversation(c.id) },
            (c.contact && (c.contact.name || c.contact.display_name)) || `Conversation ${c.id}`))));
      const more = ids.length > shown.length ? h("p", { class: "muted" }, `and ${ids.length - shown.length} more`) : null;
      clear(this.drill).append(h("h3", {}, `${label}: ${ids.length} conversation${ids.length === 1 ? "" : "s"}`),
        ids.length ? list : h("p", { class: "muted" }, "None."), more, close);
      this.drill.scrollIntoView({ block: "nearest" });
    } catch (err) {
      clear(this.drill).append(h("h3", {}, label), h("p", { class: "error", role: "alert" }, err.message));
    }
  }
}
