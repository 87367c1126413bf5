// One open thread: header, STOP banner, timeline (older pages on demand), who else is here, composer,
// and the patient's record beside it.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { makeComposer } from "/static/composer.js";
import { ContactPanel } from "/static/contact_panel.js";
import { drawThreadHeader } from "/static/thread_header.js";
import { openBooking } from "/static/booking.js";
import { itemEl } from "/static/timeline_items.js";
import { requestPayment } from "/static/payment_items.js";
import { sendForm } from "/static/form_items.js";

const PAGE = 50;  // the items API's page size

export class Thread {
  constructor({ session, staff, teams, onViewing, onMoved }) {
    Object.assign(this, { session, staff, teams, onViewing, onMoved });
    this.current = null;
    this.ready = Promise.resolve();
    this.summary = null;
    this.items = [];
    this.panel = new ContactPanel({
      onClose: () => this.drawHeader(this.summary),
      onReschedule: (a) => this.book(a),
      conversation: () => this.current,
    });
    this.main = h("div", { class: "thread-main" }, h("p", { class: "empty" }, "Choose a conversation."));
    this.el = h("section", { class: "thread", "aria-label": "Conversation" }, this.main, this.panel.el);
  }

  /** Load conversation `id` and draw it; resolves with its summary. */
  open(id, options) {
    this.ready = this.load(id, options || {});
    return this.ready;
  }

  async load(id, { keepScroll = false }) {
    const switching = id !== this.current;
    this.current = id;
    // Live items that arrive while the thread loads wait here, then apply in order over what was read.
    const buffer = this.buffer = [];
    let summary, items;
    try {
      [summary, items] = await Promise.all([
        api("GET", `/api/v1/conversations/${id}`),
        api("GET", `/api/v1/conversations/${id}/items`),
      ]);
    } catch (err) {
      if (this.buffer === buffer) this.buffer = null;
      throw err;
    }
    if (id !== this.current) return summary;  // another thread was opened meanwhile
    const draft = !switching && this.composer ? this.composer : null;  // a re-read keeps what was typed
    this.summary = summary;
    this.names = null;
    this.items = items.reverse();
    this.header = h("header", { class: "thread-head" });
    this.older = h("button", { type: "button", class: "older", hidden: items.length < PAGE, onclick: () => this.loadOlder() },
      "Load older messages");
    this.timelineEl = h("ol", { class: "timeline", "aria-label": "Timeline", "aria-live": "polite" });
    this.composer = draft || makeComposer({
      conversationId: id,
      onSent: (item) => this.appendItem(item),
      onOptedOut: () => this.setOptedOut(true),
      onTyping: () => this.onViewing(id, true),
    });
    this.banner = h("p", { class: "banner", role: "status", "data-testid": "opted-out", hidden: true },
      "This patient replied STOP: texting is blocked until they text START. Call or e-mail instead.");
    this.presenceEl = h("p", { class: "presence", "data-testid": "thread-presence", "aria-live": "polite" });
    const typing = draft && draft.contains(document.activeElement) ? document.activeElement : null;
    clear(this.main).append(this.header, this.banner, h("div", { class: "scroller" }, this.older, this.timelineEl),
      this.presenceEl, this.composer);
    if (typing) typing.focus();
    this.el.dataset.conversation = id;
    this.drawHeader(summary);
    this.setOptedOut(summary.opted_out);
    for (const item of this.items) this.timelineEl.append(this.itemEl(item));
    if (!keepScroll) this.scrollToEnd();
    if (this.panel.open) {
      if (switching) this.panel.show(summary.contact.id);
      else this.panel.refresh(summary.contact.id);
    }
    this.onViewing(id, false);
    if (this.buffer === buffer) {
      this.buffer = null;
      for (const [added, item] of buffer) {
        if (added) this.appendItem(item);
        else this.replaceItem(item);
      }
    }
    return summary;
  }

  scrollToEnd() {
    const scroller = this.timelineEl.parentElement;
    scroller.scrollTop = scroller.scrollHeight;
  }

  /** Prepend the page before the oldest item shown, keeping what staff were reading in place. */
  async loadOlder() {
    const id = this.current;
    const oldest = this.items.length ? this.items[0].id : null;
    if (!oldest) return;
    this.older.disabled = true;
    const page = await api("GET", `/api/v1/conversations/${id}/items?before=${oldest}`);
    if (id !== this.current) return;
    const scroller = this.timelineEl.parentElement;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const older = page.reverse().filter((item) => !this.timelineEl.querySelector(`[data-item="${item.id}"]`));
    this.items = [...older, ...this.items];
    this.timelineEl.prepend(...older.map((item) => this.itemEl(item)));
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
    this.older.disabled = false;
    this.older.hidden = page.length < PAGE;
    if (older.length) this.timelineEl.querySelector(`[data-item="${older[older.length - 1].id}"]`)?.setAttribute("tabindex", "-1");
  }

  lastItemId() {
    return this.items.length ? this.items[this.items.length - 1].id : 0;
  }

  drawHeader(c) {
    if (!c || !this.header) return;
    drawThreadHeader(this.header, c, {
      staff: this.staff, teams: this.teams(),
      patientOpen: this.panel.open,
      onPatient: () => this.togglePatient(),
      onCall: this.onCall,
      onBook: () => this.book(),
      onPayment: () => requestPayment(c.id),
      onReview: () => api("POST", `/api/v1/conversations/${c.id}/review-requests`).catch((err) => this.composer.showError(err.message)),
      onForm: () => sendForm(c.id).catch((err) => this.composer.showError(err.message)),
    });
  }

  /** The booking dialog for this thread's patient (or to move `appointment`); the item arrives live. */
  async book(appointment = null) {
    if (!this.summary) return;
    try {
      await openBooking(this.summary, { appointment });
    } catch (err) {
      if (this.composer) this.composer.showError(err.message);
    }
  }

  togglePatient() {
    if (this.panel.open) this.panel.hide();
    else {
      this.panel.show(this.summary.contact.id);
      this.drawHeader(this.summary);
    }
  }

  /** A conversation.updated for this thread: new name, numbers or status. */
  update(state) {
    this.summary = { ...this.summary, ...state };
    this.drawHeader(this.summary);
    this.setOptedOut(this.summary.opted_out);
    this.panel.refresh(state.contact.id);
  }

  /** Names of the patients who share a number, for the "who wrote this?" chooser (asked once). */
  async householdNames(ids) {
    if (!this.names) {
      this.names = new Map();
      try {
        const record = await api("GET", `/api/v1/contacts/${this.summary.contact.id}`);
        for (const m of (record.household || {}).members || []) this.names.set(m.id, m.name);
      } catch { /* the ids are shown instead */ }
    }
    for (const id of ids.filter((x) => !this.names.has(x))) {
      try { this.names.set(id, (await api("GET", `/api/v1/contacts/${id}`)).display_name); } catch { /* merged away */ }
    }
    return this.names;
  }

  itemEl(item) {
    return itemEl(item, {
      staff: this.staff,
      onError: (err) => this.composer.showError(err.message),
      household: {
        contactId: this.summary.contact.id,
        names: (ids) => this.householdNames(ids),
        onMoved: (result) => { for (const moved of result.item_ids) this.removeItem(moved); this.onMoved(result); },
      },
    });
  }

  setOptedOut(blocked) {
    if (!this.summary) return;
    this.summary.opted_out = blocked;
    if (this.banner) this.banner.hidden = !blocked;
    if (this.composer) this.composer.setChannels(this.summary.contact, blocked);
  }

  replaceItem(item) {
    if (this.buffer) { this.buffer.push([false, item]); return; }
    const old = this.timelineEl && this.timelineEl.querySelector(`[data-item="${item.id}"]`);
    if (old) old.replaceWith(this.itemEl(item));
    if (item.kind === "payment" && this.summary) this.panel.refreshBalance(this.summary.contact.id);
  }

  appendItem(item) {
    if (this.buffer) { this.buffer.push([true, item]); return; }
    if (!this.timelineEl || this.timelineEl.querySelector(`[data-item="${item.id}"]`)) return;
    this.items.push(item);
    this.timelineEl.append(this.itemEl(item));
    this.scrollToEnd();
    const waitlisted = item.kind === "activity" && String((item.meta || {}).action || "").startsWith("waitlist_");
    if (item.kind === "appointment" || waitlisted) this.panel.refreshAppointments();
    if (item.kind === "payment" && this.summary) this.panel.refreshBalance(this.summary.contact.id);
  }

  removeItem(itemId) {
    this.items = this.items.filter((i) => i.id !== itemId);
    const el = this.timelineEl && this.timelineEl.querySelector(`[data-item="${itemId}"]`);
    if (el) el.remove();
  }

  showPresence(rows) {
    if (!this.presenceEl) return;
    const others = rows.filter((r) => r.user_id !== this.session.user_id && r.viewing.includes(this.current));
    this.presenceEl.textContent = others.map((r) => {
      const name = this.staff.get(r.user_id)?.name || "A colleague";
      return r.typing.includes(this.current) ? `${name} is typing…` : `${name} is viewing`;
    }).join(" · ");
  }

  /** Focus the composer: "reply" picks the patient's channel (text, else e-mail), "note" a note. */
  async focusComposer(mode) {
    await this.ready.catch(() => {});  // a thread still loading: its composer, not the one about to go
    if (!this.composer) return;
    if (mode) this.composer.choose(mode);
    this.composer.querySelector("textarea").focus();
  }
}
