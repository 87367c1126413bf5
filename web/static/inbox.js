// The live inbox: conversation list, thread view and composer, all kept current by socket events.
import { api } from "/static/api.js";
import { clear, h, when } from "/static/dom.js";
import { countSegments } from "/static/segments.js";
import { callBody, voicemailBody } from "/static/call_items.js";
import { attachmentPicker, renderEmail, sendEmail } from "/static/email_view.js";

const STATUS_WORDS = {
  pending: "sending…", scheduled: "scheduled", sending: "sending…", queued: "✓ sent to carrier",
  accepted: "✓ sent to carrier", sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read",
  undelivered: "not delivered", failed: "failed", canceled: "canceled", received: "",
};

const FILTERS = [
  { key: "open", label: "Open", query: "status=open" },
  { key: "mine", label: "Mine", query: "status=open&assignee=me" },
  { key: "unassigned", label: "Unassigned", query: "status=open&assignee=unassigned" },
  { key: "unread", label: "Unread", query: "status=all&unread=true" },
  { key: "snoozed", label: "Snoozed", query: "status=snoozed" },
  { key: "closed", label: "Closed", query: "status=closed" },
];

function alertError(err) {
  const box = document.querySelector(".composer .error");
  if (box) box.textContent = err.message;
}

const KIND_LABEL = {
  sms: "Text", mms: "Picture message", email: "E-mail", call: "Call", voicemail: "Voicemail",
  note: "Internal note", activity: "", appointment: "Appointment", payment: "Payment", review: "Review",
};

export class Inbox {
  constructor(root, session, staff) {
    this.root = root;
    this.session = session;
    this.staff = staff;
    this.filter = "open";
    this.location = "";
    this.conversations = new Map();
    this.order = [];
    this.nextCursor = null;
    this.current = null;
    this.items = [];
    this.render();
  }

  render() {
    this.listEl = h("ul", { class: "conversations", role: "listbox", "aria-label": "Conversations" });
    this.threadEl = h("section", { class: "thread", "aria-label": "Conversation" },
      h("p", { class: "empty" }, "Choose a conversation."));
    const tabs = h("div", { class: "filters", role: "tablist", "aria-label": "Filter conversations" },
      FILTERS.map((f) => h("button", {
        role: "tab", "aria-selected": f.key === this.filter ? "true" : "false", dataset: { filter: f.key },
        onclick: () => this.setFilter(f.key),
      }, f.label)));
    this.locationSelect = h("select", { "aria-label": "Location", onchange: (e) => this.setLocation(e.target.value) },
      h("option", { value: "" }, "All my locations"));
    this.moreButton = h("button", { class: "more", hidden: true, onclick: () => this.loadMore() }, "Load more");
    clear(this.root).append(
      h("aside", { class: "list-pane" }, this.locationSelect, tabs, this.listEl, this.moreButton),
      this.threadEl,
    );
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
    if (this.current) await this.open(this.current, { keepScroll: true });
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
    this.drawList();
  }

  setFilter(key) {
    this.filter = key;
    for (const tab of this.root.querySelectorAll("[data-filter]")) {
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

  drawList() {
    this.order.sort((a, b) => {
      const ca = this.conversations.get(a), cb = this.conversations.get(b);
      return cb.last_item_at.localeCompare(ca.last_item_at) || b - a;
    });
    clear(this.listEl);
    for (const id of this.order) {
      const c = this.conversations.get(id);
      const badge = c.unread > 0 ? h("span", { class: "badge", "aria-label": `${c.unread} unread` }, c.unread) : null;
      const assignee = c.assignee_id ? this.staff.get(c.assignee_id)
        : (c.team_id ? { name: `Team ${(this.teams || []).find((t) => t.id === c.team_id)?.name || ""}` } : null);
      this.listEl.append(h("li", {
        role: "option", tabindex: "0", dataset: { conversation: c.id }, "aria-selected": id === this.current ? "true" : "false",
        class: c.unread > 0 ? "unread" : "", onclick: () => this.open(id),
        onkeydown: (e) => { if (e.key === "Enter") this.open(id); },
      },
      h("div", { class: "row" }, h("strong", { class: "name" }, c.contact.name), badge,
        h("time", { datetime: c.last_item_at }, when(c.last_item_at))),
      h("div", { class: "preview" }, c.last_item ? c.last_item.body : ""),
      assignee ? h("div", { class: "assignee" }, `→ ${assignee.name}`) : null));
    }
    if (!this.order.length) this.listEl.append(h("li", { class: "empty" }, "Nothing here."));
  }

  upsert(state, { unreadDelta = 0 } = {}) {
    const known = this.conversations.get(state.id);
    const merged = { ...state, unread: Math.max(0, (known ? known.unread : 0) + unreadDelta) };
    if (this.matches(merged)) {
      if (!known) this.order.push(state.id);
      this.conversations.set(state.id, merged);
    } else if (known) {
      this.conversations.delete(state.id);
      this.order = this.order.filter((x) => x !== state.id);
    }
    this.drawList();
  }

  onEvent(event) {
    if (event.type === "timeline.item_added") {
      const viewing = this.current === event.conversation_id && document.visibilityState === "visible";
      const delta = event.item.direction === "in" && !viewing ? 1 : 0;
      this.upsert(event.conversation, { unreadDelta: delta });
      if (this.current === event.conversation_id) {
        this.appendItem(event.item);
        if (event.item.direction === "in") this.markRead(event.item.id);
        const action = (event.item.meta || {}).action;
        if (action === "sms_stop" || action === "sms_start") this.setOptedOut(action === "sms_stop");
      }
    } else if (event.type === "timeline.item_updated") {
      if (this.current === event.conversation_id) this.replaceItem(event.item);
    } else if (event.type === "conversation.updated") {
      this.upsert(event.conversation);
      if (this.current === event.conversation.id) this.drawHeader(event.conversation);
    } else if (event.type === "conversation.read") {
      const c = this.conversations.get(event.conversation_id);
      if (c && event.last_read_item_id >= c.last_inbound_id) this.upsert({ ...c, unread: 0 }, { unreadDelta: -c.unread });
    }
  }

  async open(id, { keepScroll = false } = {}) {
    this.current = id;
    const [summary, items] = await Promise.all([
      api("GET", `/api/v1/conversations/${id}`),
      api("GET", `/api/v1/conversations/${id}/items`),
    ]);
    this.items = items.reverse();
    this.header = h("header", { class: "thread-head" });
    this.timelineEl = h("ol", { class: "timeline", "aria-label": "Timeline", "aria-live": "polite" });
    this.composer = this.makeComposer();
    clear(this.threadEl).append(this.header, this.timelineEl, this.composer);
    this.drawHeader(summary);
    this.banner = h("p", { class: "banner", role: "status", "data-testid": "opted-out", hidden: true },
      "This patient replied STOP: texting is blocked until they text START. Call or e-mail instead.");
    this.threadEl.insertBefore(this.banner, this.timelineEl);
    this.summary = summary;
    this.setOptedOut(summary.opted_out);
    for (const item of this.items) this.timelineEl.append(this.itemEl(item));
    if (!keepScroll) this.timelineEl.scrollTop = this.timelineEl.scrollHeight;
    for (const li of this.listEl.querySelectorAll("li[data-conversation]")) {
      li.setAttribute("aria-selected", li.dataset.conversation === String(id) ? "true" : "false");
    }
    const last = this.items.length ? this.items[this.items.length - 1].id : 0;
    if (summary.unread > 0) this.markRead(last);
    this.presenceEl = h("p", { class: "presence", "data-testid": "thread-presence", "aria-live": "polite" });
    this.threadEl.insertBefore(this.presenceEl, this.composer);
    if (this.onViewing) this.onViewing(id, false);
  }

  markRead(itemId) {
    api("POST", `/api/v1/conversations/${this.current}/read`, { item_id: itemId }).catch(() => {});
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

  drawHeader(c) {
    const staffOptions = [h("option", { value: "" }, "Unassigned")];
    for (const s of this.staff.values()) {
      staffOptions.push(h("option", { value: `u:${s.id}`, selected: s.id === c.assignee_id }, s.name));
    }
    for (const t of this.teams || []) {
      staffOptions.push(h("option", { value: `t:${t.id}`, selected: !c.assignee_id && t.id === c.team_id }, `Team: ${t.name}`));
    }
    const assign = h("select", { "aria-label": "Assign to", onchange: (e) => this.assign(e.target.value) }, staffOptions);
    const statusButtons = c.status === "open"
      ? [h("button", { onclick: () => this.setStatus("closed"), title: "Close (e)" }, "Close"),
         h("button", { onclick: () => this.snooze() }, "Snooze 1 h")]
      : [h("button", { onclick: () => this.setStatus("open") }, "Reopen")];
    const phone = c.contact.phones[0];
    const callButton = phone && this.onCall
      ? h("button", { class: "call", "data-testid": "call-patient", onclick: () => this.onCall(c.id, phone) }, "Call")
      : null;
    clear(this.header).append(
      h("div", {},
        h("h2", {}, c.contact.name),
        h("span", { class: "meta" }, [...c.contact.phones, ...c.contact.emails].join(" · ")),
        h("span", { class: `status status-${c.status}` }, c.status)),
      h("div", { class: "actions" }, callButton, assign, statusButtons),
    );
  }

  itemEl(item) {
    const author = item.author_id ? this.staff.get(item.author_id) : null;
    const label = KIND_LABEL[item.kind] ?? item.kind;
    const meta = item.meta || {};
    const words = item.status ? (STATUS_WORDS[item.status] ?? item.status) : "";
    const failed = ["failed", "undelivered"].includes(item.status);
    const media = (meta.media || []).map((m) => {
      if (m.state !== "stored") {
        return h("div", { class: "media-missing" }, m.state === "pending" ? "Picture loading…" : `File not kept: ${m.error || m.state}`);
      }
      const url = `/api/v1/media/${m.id}`;
      return (m.content_type || "").startsWith("image/")
        ? h("a", { href: url, target: "_blank", rel: "noopener", class: "thumb" }, h("img", { src: url, alt: "Picture from the patient", loading: "lazy" }))
        : h("a", { href: url, class: "attachment" }, `Attachment (${m.content_type})`);
    });
    const cancel = item.status === "scheduled"
      ? h("button", { class: "link", onclick: () => api("POST", `/api/v1/items/${item.id}/cancel`).catch((e) => alertError(e)) }, "Cancel")
      : null;
    return h("li", { class: `item ${item.direction} kind-${item.kind}${failed ? " failed" : ""}`, dataset: { item: item.id, status: item.status || "" } },
      h("div", { class: "item-meta" }, label, author ? ` · ${author.name}` : "",
        h("time", { datetime: item.created_at }, ` ${when(item.created_at)}`),
        meta.send_at && item.status === "scheduled" ? ` · goes ${when(meta.send_at)} ${new Date(meta.send_at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" })}` : "",
        words ? h("span", { class: "item-status" }, ` · ${words}`) : null, cancel),
      item.kind === "email" ? this.emailBody(item)
        : item.kind === "call" ? callBody(item, this.staff)
          : item.kind === "voicemail" ? voicemailBody(item) : h("div", { class: "body" }, item.body),
      ["email", "call", "voicemail"].includes(item.kind) ? null : media,
      failed && meta.error ? h("div", { class: "item-error", role: "note" }, meta.error) : null);
  }

  emailBody(item) {
    return renderEmail(item);
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

  makeComposer() {
    const text = h("textarea", { name: "body", rows: 3, "aria-label": "Message" });
    const channel = h("select", { "aria-label": "Channel", name: "channel" },
      h("option", { value: "sms" }, "Text message"),
      h("option", { value: "note" }, "Internal note"),
      h("option", { value: "email" }, "E-mail"));
    const subject = h("input", { name: "subject", "aria-label": "Subject", placeholder: "Subject (default: Re: the last e-mail)" });
    const counter = h("span", { class: "counter", "data-testid": "segments", "aria-live": "polite" });
    const later = h("input", { type: "datetime-local", name: "send_at", "aria-label": "Send later at" });
    const laterBox = h("label", { class: "later" }, "Send later ", later);
    const submit = h("button", { type: "submit" }, "Send");
    const error = h("p", { class: "error", role: "alert" });
    const files = attachmentPicker();
    const update = () => {
      const sms = channel.value === "sms";
      text.placeholder = sms ? "Text the patient… (Ctrl+Enter sends)" : "Write an internal note… (@name to mention)";
      submit.textContent = sms ? (later.value ? "Schedule" : "Send text") : channel.value === "email" ? "Send e-mail" : "Add note";
      laterBox.hidden = !sms;
      subject.hidden = files.el.hidden = channel.value !== "email";
      if (sms && text.value) {
        const c = countSegments(text.value);
        counter.textContent = `${c.characters} characters · ${c.segments} segment${c.segments > 1 ? "s" : ""} (${c.encoding})`;
      } else counter.textContent = "";
    };
    const form = h("form", { class: "composer", onsubmit: async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      try {
        let item;
        if (channel.value === "sms") {
          const body = { channel: "sms", body: text.value };
          if (later.value) body.send_at = new Date(later.value).toISOString();
          item = await api("POST", `/api/v1/conversations/${this.current}/messages`, body);
        } else if (channel.value === "email") {
          item = await sendEmail(this.current, { body: text.value, subject: subject.value, files: files.files() });
          subject.value = "";
          files.clear();
        } else {
          item = await api("POST", `/api/v1/conversations/${this.current}/notes`, { body: text.value });
        }
        this.appendItem(item);
        text.value = "";
        later.value = "";
        error.textContent = "";
        update();
      } catch (err) {
        error.textContent = err.message;
        if (err.code === "opted_out") this.setOptedOut(true);
      }
    } }, channel, counter, subject, text, files.el, laterBox, submit, error);
    form.refresh = update;
    channel.addEventListener("change", update);
    later.addEventListener("change", update);
    text.addEventListener("input", update);
    let typingSent = 0;
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
      else if (this.onViewing && Date.now() - typingSent > 4000) {
        typingSent = Date.now();
        this.onViewing(this.current, true);
      }
    });
    update();
    return form;
  }

  async assign(value) {
    const [kind, id] = value ? value.split(":") : [null, null];
    const note = kind ? window.prompt("Note for the hand-off (optional)") : null;
    await api("POST", `/api/v1/conversations/${this.current}/assign`, {
      assignee_id: kind === "u" ? Number(id) : null,
      team_id: kind === "t" ? Number(id) : null,
      note: note || null,
    });
  }

  async setStatus(status) {
    await api("POST", `/api/v1/conversations/${this.current}/status`, { status });
  }

  async snooze() {
    const until = new Date(Date.now() + 3600 * 1000).toISOString();
    await api("POST", `/api/v1/conversations/${this.current}/status`, { status: "snoozed", snoozed_until: until });
  }

  move(step) {
    if (!this.order.length) return;
    const index = this.order.indexOf(this.current);
    const next = this.order[Math.min(this.order.length - 1, Math.max(0, index + step))];
    if (next !== undefined) this.open(next);
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
    const text = this.threadEl.querySelector("textarea");
    if (text) text.focus();
  }
}
