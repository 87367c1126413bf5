// The patient side panel in a thread: the record (name, phones, e-mails, date of birth, address,
// insurance, household), the open balance (kept live as payment cards change), editing it, merging a
// duplicate record into it, the patient's upcoming appointments and the thread's waitlist.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openMerge } from "/static/contact_merge.js";
import { appointmentsSection } from "/static/appointments_panel.js";
import { waitlistSection } from "/static/waitlist_panel.js";
import { money } from "/static/payment_items.js";

const PHONE_LABELS = ["mobile", "home", "work", "other"];

function birthday(iso) {
  if (!iso) return "—";
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" });
}

/** The address as lines ("—" when none was given). */
function addressLines(a) {
  const lines = [a.line1, a.line2, [a.city, [a.region, a.postal_code].filter(Boolean).join(" ")].filter(Boolean).join(", ")].filter(Boolean);
  return lines.length ? h("span", { "data-testid": "patient-address" }, ...lines.flatMap((l, i) => (i ? [h("br"), l] : [l]))) : "—";
}

function insuranceView(ins) {
  const parts = [ins.carrier, ins.member_id && `member ${ins.member_id}`, ins.group_number && `group ${ins.group_number}`].filter(Boolean);
  if (!parts.length && !ins.card_url) return "—";
  return h("span", { "data-testid": "patient-insurance" }, parts.join(" · "),
    ins.card_url ? [parts.length ? " · " : "", h("a", { href: ins.card_url, target: "_blank", rel: "noopener" }, "card photo")] : null);
}

export class ContactPanel {
  constructor({ onClose, onReschedule, conversation }) {
    this.onClose = onClose;
    this.onReschedule = onReschedule;
    this.conversation = conversation || (() => null);  // the thread the panel sits in (its waitlist)
    this.appointments = null;
    this.contact = null;
    this.el = h("aside", { class: "contact-panel", id: "contact-panel", "aria-label": "Patient record", hidden: true });
  }

  get open() { return !this.el.hidden; }

  /** Show patient `contactId`'s record (fetched fresh: opening it is an audited view). */
  async show(contactId) {
    this.el.hidden = false;
    clear(this.el).append(h("p", { class: "muted" }, "Loading…"));
    try {
      this.contact = await api("GET", `/api/v1/contacts/${contactId}`);
    } catch (err) {
      clear(this.el).append(this.head("Patient"), h("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    this.drawView();
  }

  /** The patient's open balance at this staff member's locations (an audited read). */
  async refreshBalance(contactId) {
    const el = this.el.querySelector("[data-testid=patient-balance]");
    if (!el || !this.contact || this.contact.id !== contactId) return;
    try {
      const b = await api("GET", `/api/v1/contacts/${contactId}/balance`);
      if (!this.contact || this.contact.id !== contactId) return;
      el.textContent = b.open_cents
        ? `${money(b.open_cents, b.currency)} (${b.open_requests} open request${b.open_requests === 1 ? "" : "s"})`
        : "none";
      // A bank debit still clearing is neither owed nor paid yet: said apart from the open balance.
      const clearing = this.el.querySelector("[data-testid=patient-clearing]");
      if (clearing) {
        clearing.hidden = !b.clearing_cents;
        clearing.textContent = b.clearing_cents ? ` · clearing: ${money(b.clearing_cents, b.currency)}` : "";
      }
    } catch (err) {
      el.textContent = `not available: ${err.message}`;
    }
  }

  hide() {
    this.el.hidden = true;
    this.contact = null;
    this.onClose();
  }

  /** The same record changed elsewhere (an event): redraw it unless staff are editing. */
  async refresh(contactId) {
    if (this.open && this.contact && this.contact.id === contactId && !this.el.querySelector("form.contact-edit")) {
      await this.show(contactId);
    }
  }

  /** An appointment of this patient changed (an item in the thread): redraw the upcoming list. */
  refreshAppointments() {
    if (this.open && this.appointments && this.appointments.isConnected) this.appointments.refresh();
    if (this.open && this.waitlist && this.waitlist.isConnected) this.waitlist.refresh();
  }

  head(title) {
    return h("header", { class: "panel-head" }, h("h2", {}, title),
      h("button", { type: "button", class: "dialog-close", "aria-label": "Close the patient record", onclick: () => this.hide() }, "×"));
  }

  drawView() {
    const c = this.contact;
    const row = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
    const phones = c.phones.length
      ? h("ul", {}, c.phones.map((p) => h("li", {}, p.e164, h("span", { class: "muted" }, ` (${p.label})`))))
      : "none";
    const emails = c.emails.length ? h("ul", {}, c.emails.map((e) => h("li", {}, e))) : "none";
    const household = c.household
      ? h("ul", { class: "members" }, c.household.members.map((m) => h("li", {}, m.id === c.id
        ? h("span", {}, `${m.name} (this patient)`)
        : h("button", { type: "button", class: "link", "aria-label": `Show ${m.name}'s record`, onclick: () => this.show(m.id) }, m.name))))
      : "not sharing a number";
    clear(this.el).append(h("div", { class: "panel-body" },
      this.head(c.display_name),
      c.is_unknown ? h("p", { class: "hint" }, "Unknown sender: give a name to identify them.") : null,
      h("dl", { class: "record", "data-testid": "patient-record" },
        row("Date of birth", birthday(c.date_of_birth)),
        row("Phones", phones),
        row("E-mails", emails),
        row("Address", addressLines(c.address)),
        row("Insurance", insuranceView(c.insurance)),
        row(c.household ? c.household.name : "Household", household),
        row("Open balance", [h("span", { "data-testid": "patient-balance" }, "…"),
          h("span", { class: "muted", "data-testid": "patient-clearing", hidden: true })])),
      this.appointments = appointmentsSection(c.id, { onReschedule: this.onReschedule }),
      this.conversation() ? (this.waitlist = waitlistSection(this.conversation())) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => this.drawEdit() }, "Edit record"),
        h("button", { type: "button", onclick: () => this.merge() }, "Merge a duplicate…"))));
    this.refreshBalance(c.id);
  }

  phoneRow(phone) {
    const number = h("input", { name: "phone", type: "tel", value: phone ? phone.e164 : "", "aria-label": "Phone number", autocomplete: "off" });
    const label = h("select", { name: "phone_label", "aria-label": "Phone type" },
      PHONE_LABELS.map((l) => h("option", { value: l, selected: phone && phone.label === l }, l)));
    const row = h("li", { class: "phone-row" }, number, label,
      h("button", { type: "button", "aria-label": "Remove this phone number", onclick: () => row.remove() }, "Remove"));
    return row;
  }

  emailRow(address) {
    const row = h("li", { class: "email-row" },
      h("input", { name: "email", type: "email", value: address || "", "aria-label": "E-mail address", autocomplete: "off" }),
      h("button", { type: "button", "aria-label": "Remove this e-mail address", onclick: () => row.remove() }, "Remove"));
    return row;
  }

  drawEdit() {
    const c = this.contact;
    const first = h("input", { name: "first_name", value: c.first_name, maxlength: 100 });
    const last = h("input", { name: "last_name", value: c.last_name, maxlength: 100 });
    const dob = h("input", { name: "date_of_birth", type: "date", value: c.date_of_birth || "" });
    const phones = h("ul", { class: "rows", "aria-label": "Phone numbers" }, c.phones.map((p) => this.phoneRow(p)));
    const emails = h("ul", { class: "rows", "aria-label": "E-mail addresses" }, c.emails.map((e) => this.emailRow(e)));
    const part = (group, key, label, value, max) => h("label", {}, `${label} `, h("input", { name: `${group}_${key}`, value, maxlength: max, dataset: { group, key } }));
    const address = h("fieldset", {}, h("legend", {}, "Address"),
      part("address", "line1", "Address line 1", c.address.line1, 200), part("address", "line2", "Address line 2", c.address.line2, 200),
      part("address", "city", "City", c.address.city, 100), part("address", "region", "State / region", c.address.region, 100),
      part("address", "postal_code", "Postal code", c.address.postal_code, 20));
    const insurance = h("fieldset", {}, h("legend", {}, "Insurance"),
      part("insurance", "carrier", "Carrier", c.insurance.carrier, 200), part("insurance", "member_id", "Member ID", c.insurance.member_id, 64),
      part("insurance", "group_number", "Group number", c.insurance.group_number, 64));
    const group = (el) => Object.fromEntries([...el.querySelectorAll("input")].map((i) => [i.dataset.key, i.value.trim()]));
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "contact-edit", "aria-label": "Edit the patient record", onsubmit: async (e) => {
      e.preventDefault();
      const body = {
        first_name: first.value.trim(),
        last_name: last.value.trim(),
        date_of_birth: dob.value || null,
        phones: [...phones.querySelectorAll(".phone-row")]
          .map((r) => ({ number: r.querySelector("[name=phone]").value.trim(), label: r.querySelector("[name=phone_label]").value }))
          .filter((p) => p.number),
        emails: [...emails.querySelectorAll("[name=email]")].map((i) => i.value.trim()).filter(Boolean),
        address: group(address),
        insurance: group(insurance),
      };
      try {
        this.contact = await api("PATCH", `/api/v1/contacts/${c.id}`, body);
        this.drawView();
      } catch (err) {
        error.textContent = err.message;
      }
    } },
    h("label", {}, "First name ", first),
    h("label", {}, "Last name ", last),
    h("label", {}, "Date of birth ", dob),
    h("fieldset", {}, h("legend", {}, "Phones (the first gets texts)"), phones,
      h("button", { type: "button", onclick: () => { const r = this.phoneRow(null); phones.append(r); r.querySelector("input").focus(); } }, "Add a phone")),
    h("fieldset", {}, h("legend", {}, "E-mails"), emails,
      h("button", { type: "button", onclick: () => { const r = this.emailRow(""); emails.append(r); r.querySelector("input").focus(); } }, "Add an e-mail")),
    address, insurance,
    error,
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", onclick: () => this.drawView() }, "Cancel")));
    clear(this.el).append(this.head(`Edit ${c.display_name}`), form);
    first.focus();
  }

  async merge() {
    const result = await openMerge(this.contact);
    if (result) {
      this.contact = result.contact;
      this.drawView();
    }
  }
}
