// One open thread: header, STOP banner, timeline, who else is here, composer.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { makeComposer } from "/static/composer.js";
import { drawThreadHeader } from "/static/thread_header.js";
import { itemEl } from "/static/timeline_items.js";

export class Thread {
  constructor({ session, staff, teams, onViewing }) {
    Object.assign(this, { session, staff, teams, onViewing });
    this.current = null;
    this.summary = null;
    this.items = [];
    this.el = h("section", { class: "thread", "aria-label": "Conversation" },
      h("p", { class: "empty" }, "Choose a conversation."));
  }

  /** Load conversation `id` and draw it; resolves with its summary. */
  async open(id, { keepScroll = false } = {}) {
    this.current = id;
    const [summary, items] = await Promise.all([
      api("GET", `/api/v1/conversations/${id}`),
      api("GET", `/api/v1/conversations/${id}/items`),
    ]);
    this.items = items.reverse();
    this.header = h("header", { class: "thread-head" });
    this.timelineEl = h("ol", { class: "timeline", "aria-label": "Timeline", "aria-live": "polite" });
    this.composer = makeComposer({
      conversationId: id,
      onSent: (item) => this.appendItem(item),
      onOptedOut: () => this.setOptedOut(true),
      onTyping: () => this.onViewing(id, true),
    });
    clear(this.el).append(this.header, this.timelineEl, this.composer);
    this.drawHeader(summary);
    this.banner = h("p", { class: "banner", role: "status", "data-testid": "opted-out", hidden: true },
      "This patient replied STOP: texting is blocked until they text START. Call or e-mail instead.");
    this.el.insertBefore(this.banner, this.timelineEl);
    this.summary = summary;
    this.setOptedOut(summary.opted_out);
    for (const item of this.items) this.timelineEl.append(this.itemEl(item));
    if (!keepScroll) this.timelineEl.scrollTop = this.timelineEl.scrollHeight;
    this.presenceEl = h("p", { class: "presence", "data-testid": "thread-presence", "aria-live": "polite" });
    this.el.insertBefore(this.presenceEl, this.composer);
    this.onViewing(id, false);
    return summary;
  }

  lastItemId() {
    return this.items.length ? this.items[this.items.length - 1].id : 0;
  }

  drawHeader(c) {
    drawThreadHeader(this.header, c, { staff: this.staff, teams: this.teams() });
  }

  itemEl(item) {
    return itemEl(item, { staff: this.staff, onError: (err) => this.composer.showError(err.message) });
  }

  setOptedOut(blocked) {
    if (this.banner) this.banner.hidden = !blocked;
    const email = this.composer && this.composer.querySelector("option[value=email]");
    if (email) email.disabled = !(this.summary && this.summary.contact.emails.length);
    const sms = this.composer && this.composer.querySelector("option[value=sms]");
    if (sms) {
      sms.disabled = blocked || !(this.summary && this.summary.contact.phones.length);
      if (sms.disabled && this.composer.channel.value === "sms") { this.composer.channel.value = "note"; this.composer.refresh(); }
    }
  }

  replaceItem(item) {
    const old = this.timelineEl && this.timelineEl.querySelector(`[data-item="${item.id}"]`);
    if (old) old.replaceWith(this.itemEl(item));
  }

  appendItem(item) {
    if (this.timelineEl.querySelector(`[data-item="${item.id}"]`)) return;
    this.timelineEl.append(this.itemEl(item));
    this.timelineEl.scrollTop = this.timelineEl.scrollHeight;
  }

  showPresence(rows) {
    if (!this.presenceEl) return;
    const others = rows.filter((r) => r.user_id !== this.session.user_id && r.viewing.includes(this.current));
    this.presenceEl.textContent = others.map((r) => {
      const name = this.staff.get(r.user_id)?.name || "A colleague";
      return r.typing.includes(this.current) ? `${name} is typing…` : `${name} is viewing`;
    }).join(" · ");
  }

  focusComposer() {
    const text = this.el.querySelector("textarea");
    if (text) text.focus();
  }
}
