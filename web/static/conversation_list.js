// The conversation list: filters, location, keyset pages, unread badges, kept current by upserts.
import { api } from "/static/api.js";
import { clear, h, when } from "/static/dom.js";

const FILTERS = [
  { key: "open", label: "Open", query: "status=open" },
  { key: "mine", label: "Mine", query: "status=open&assignee=me" },
  { key: "unassigned", label: "Unassigned", query: "status=open&assignee=unassigned" },
  { key: "unread", label: "Unread", query: "status=all&unread=true" },
  { key: "snoozed", label: "Snoozed", query: "status=snoozed" },
  { key: "closed", label: "Closed", query: "status=closed" },
];

export class ConversationList {
  constructor({ session, staff, onOpen }) {
    Object.assign(this, { session, staff, onOpen });
    this.filter = "open";
    this.location = "";
    this.conversations = new Map();
    this.order = [];
    this.nextCursor = null;
    this.selected = null;
    this.teams = [];
    this.render();
  }

  render() {
    this.listEl = h("ul", { class: "conversations", role: "listbox", "aria-label": "Conversations" });
    this.tabs = h("div", { class: "filters", role: "tablist", "aria-label": "Filter conversations" },
      FILTERS.map((f) => h("button", {
        role: "tab", "aria-selected": f.key === this.filter ? "true" : "false", dataset: { filter: f.key },
        onclick: () => this.setFilter(f.key),
      }, f.label)));
    this.locationSelect = h("select", { "aria-label": "Location", onchange: (e) => this.setLocation(e.target.value) },
      h("option", { value: "" }, "All my locations"));
    this.moreButton = h("button", { class: "more", hidden: true, onclick: () => this.loadMore() }, "Load more");
    this.el = h("aside", { class: "list-pane", "aria-label": "Conversation list" },
      this.locationSelect, this.tabs, this.listEl, this.moreButton);
    api("GET", "/api/v1/locations").then((locations) => {
      for (const loc of locations) this.locationSelect.append(h("option", { value: loc.id }, loc.name));
    });
  }

  query(cursor) {
    const f = FILTERS.find((x) => x.key === this.filter);
    let q = `/api/v1/conversations?${f.query}&limit=50`;
    if (this.location) q += `&location=${this.location}`;
    if (cursor) q += `&cursor=${encodeURIComponent(cursor)}`;
    return q;
  }

  async reload() {
    const page = await api("GET", this.query());
    this.conversations.clear();
    this.order = [];
    this.addPage(page);
  }

  async loadMore() {
    if (!this.nextCursor) return;
    this.addPage(await api("GET", this.query(this.nextCursor)));
  }

  addPage(page) {
    for (const c of page.items) {
      if (!this.conversations.has(c.id)) this.order.push(c.id);
      this.conversations.set(c.id, c);
    }
    this.nextCursor = page.next_cursor;
    this.moreButton.hidden = !this.nextCursor;
    this.draw();
  }

  setFilter(key) {
    this.filter = key;
    for (const tab of this.tabs.querySelectorAll("[data-filter]")) {
      tab.setAttribute("aria-selected", tab.dataset.filter === key ? "true" : "false");
    }
    this.reload();
  }

  setLocation(value) {
    this.location = value;
    this.reload();
  }

  matches(c) {
    if (this.location && String(c.location_id) !== String(this.location)) return false;
    const me = this.session.user_id;
    switch (this.filter) {
      case "open": return c.status === "open";
      case "mine": return c.status === "open" && c.assignee_id === me;
      case "unassigned": return c.status === "open" && c.assignee_id === null;
      case "unread": return c.unread > 0;
      default: return c.status === this.filter;
    }
  }

  draw() {
    this.order.sort((a, b) => {
      const ca = this.conversations.get(a), cb = this.conversations.get(b);
      return cb.last_item_at.localeCompare(ca.last_item_at) || b - a;
    });
    clear(this.listEl);
    for (const id of this.order) this.listEl.append(this.rowEl(this.conversations.get(id)));
    if (!this.order.length) this.listEl.append(h("li", { class: "empty" }, "Nothing here."));
  }

  rowEl(c) {
    const badge = c.unread > 0 ? h("span", { class: "badge" }, c.unread, h("span", { class: "visually-hidden" }, " unread")) : null;
    const assignee = c.assignee_id ? this.staff.get(c.assignee_id)
      : (c.team_id ? { name: `Team ${this.teams.find((t) => t.id === c.team_id)?.name || ""}` } : null);
    return h("li", {
      role: "option", tabindex: "0", dataset: { conversation: c.id }, "aria-selected": c.id === this.selected ? "true" : "false",
      class: c.unread > 0 ? "unread" : "", onclick: () => this.onOpen(c.id),
      onkeydown: (e) => { if (e.key === "Enter") this.onOpen(c.id); },
    },
    h("div", { class: "row" }, h("strong", { class: "name" }, c.contact.name), badge,
      h("time", { datetime: c.last_item_at }, when(c.last_item_at))),
    h("div", { class: "preview" }, c.last_item ? c.last_item.body : ""),
    assignee ? h("div", { class: "assignee" }, `→ ${assignee.name}`) : null);
  }

  /** Mark the open conversation's row, without redrawing the list. */
  select(id) {
    this.selected = id;
    for (const li of this.listEl.querySelectorAll("li[data-conversation]")) {
      li.setAttribute("aria-selected", li.dataset.conversation === String(id) ? "true" : "false");
    }
  }

  get(id) {
    return this.conversations.get(id);
  }

  upsert(state, { unreadDelta = 0 } = {}) {
    const known = this.conversations.get(state.id);
    const merged = { ...state, unread: Math.max(0, (known ? known.unread : 0) + unreadDelta) };
    if (this.matches(merged)) {
      if (!known) this.order.push(state.id);
      this.conversations.set(state.id, merged);
    } else if (known) {
      this.remove(state.id);
      return;
    }
    this.draw();
  }

  remove(id) {
    this.conversations.delete(id);
    this.order = this.order.filter((x) => x !== id);
    this.draw();
  }

  /** The conversation `step` rows away from `id` in list order (clamped to the ends). */
  neighbour(id, step) {
    if (!this.order.length) return undefined;
    const index = this.order.indexOf(id);
    return this.order[Math.min(this.order.length - 1, Math.max(0, index + step))];
  }
}
