// Team chat panel: channels and direct messages with unread badges, live.
import { api } from "/static/api.js";
import { clear, h, when } from "/static/dom.js";

export class Chat {
  constructor(root, session, staff) {
    this.root = root;
    this.session = session;
    this.staff = staff;
    this.channels = new Map();
    this.current = null;
    this.isVisible = () => true;  // the drawer replaces these: a hidden panel reads nothing
    this.onUnreadChange = () => {};
    this.render();
  }

  render() {
    this.channelList = h("ul", { class: "channels", "aria-label": "Chat channels" });
    this.messagesEl = h("ol", { class: "messages", "aria-label": "Chat messages", "aria-live": "polite" });
    const text = h("input", { name: "chat", "aria-label": "Chat message", placeholder: "Message the team…", autocomplete: "off" });
    this.form = h("form", { class: "chat-composer", onsubmit: async (e) => {
      e.preventDefault();
      if (!text.value.trim() || !this.current) return;
      const body = text.value;
      text.value = "";
      await api("POST", `/api/v1/chat/channels/${this.current}/messages`, { body });
    } }, text, h("button", { type: "submit" }, "Send"));
    this.presenceEl = h("p", { class: "team-presence", "data-testid": "team-presence" });
    const others = [...this.staff.values()].filter((s) => s.id !== this.session.user_id);
    const direct = h("select", { "aria-label": "Message a colleague", onchange: async (e) => {
      if (!e.target.value) return;
      const channel = await api("POST", "/api/v1/chat/direct", { user_id: Number(e.target.value) });
      e.target.value = "";
      this.channels.set(channel.id, { unread: 0, ...channel });
      await this.open(channel.id);
    } }, h("option", { value: "" }, "Message a colleague…"), others.map((s) => h("option", { value: s.id }, s.name)));
    clear(this.root).append(h("h2", {}, "Team chat"), this.presenceEl, this.channelList, direct, this.messagesEl, this.form);
  }

  showPresence(rows) {
    const online = rows.filter((r) => r.user_id !== this.session.user_id)
      .map((r) => `${this.staff.get(r.user_id)?.name || "Someone"} (${r.state.replace("_", " ")})`);
    this.presenceEl.textContent = online.length ? `Here now: ${online.join(", ")}` : "Nobody else is online.";
  }

  async reload() {
    // Reloads can overlap (a new channel and its first message arrive together): only the newest counts.
    const generation = (this.generation = (this.generation || 0) + 1);
    const channels = await api("GET", "/api/v1/chat/channels");
    if (generation !== this.generation) return;
    this.channels.clear();
    for (const c of channels) this.channels.set(c.id, c);
    this.drawChannels();
    if (!this.current && channels.length) await this.open(channels[0].id);
    else if (this.current) await this.open(this.current);
  }

  channelName(c) {
    if (c.kind !== "direct") return `# ${c.name}`;
    const other = (c.member_ids || []).find((id) => id !== this.session.user_id);
    return this.staff.get(other)?.name || c.name || "Direct message";
  }

  totalUnread() {
    let total = 0;
    for (const c of this.channels.values()) total += c.unread || 0;
    return total;
  }

  /** The panel became visible: what arrived in the open channel meanwhile is read now. */
  shown() {
    const channel = this.channels.get(this.current);
    if (channel && channel.unread > 0) this.open(this.current).catch(() => {});
  }

  drawChannels() {
    clear(this.channelList);
    for (const c of this.channels.values()) {
      this.channelList.append(h("li", {},
        h("button", { class: c.id === this.current ? "active" : "", dataset: { channel: c.id }, onclick: () => this.open(c.id) },
          this.channelName(c),
          c.unread > 0 ? h("span", { class: "badge" }, h("span", { class: "visually-hidden" }, ", unread: "), c.unread) : null)));
    }
    this.onUnreadChange();
  }

  async open(id) {
    this.current = id;
    const messages = await api("GET", `/api/v1/chat/channels/${id}/messages`);
    clear(this.messagesEl);
    const ordered = [...messages].sort((a, b) => a.id - b.id);
    for (const m of ordered) this.messagesEl.append(this.messageEl(m));
    this.messagesEl.scrollTop = this.messagesEl.scrollHeight;
    const last = ordered.length ? ordered[ordered.length - 1].id : 0;
    const channel = this.channels.get(id);
    if (channel && channel.unread > 0 && last && this.isVisible()) {
      channel.unread = 0;
      api("POST", `/api/v1/chat/channels/${id}/read`, { message_id: last }).catch(() => {});
    }
    this.drawChannels();
  }

  messageEl(m) {
    const author = this.staff.get(m.author_id);
    return h("li", { class: "message", dataset: { message: m.id } },
      h("div", { class: "item-meta" }, author ? author.name : "Someone",
        h("time", { datetime: m.created_at }, ` ${when(m.created_at)}`)),
      h("div", { class: "body" }, m.body));
  }

  onEvent(event) {
    if (event.type === "chat.message_posted") {
      const channel = this.channels.get(event.channel_id);
      if (event.channel_id === this.current) {
        if (!this.messagesEl.querySelector(`[data-message="${event.message.id}"]`)) {
          this.messagesEl.append(this.messageEl(event.message));
          this.messagesEl.scrollTop = this.messagesEl.scrollHeight;
        }
        if (event.message.author_id !== this.session.user_id && this.isVisible()) {
          api("POST", `/api/v1/chat/channels/${event.channel_id}/read`, { message_id: event.message.id }).catch(() => {});
        } else if (event.message.author_id !== this.session.user_id && channel) {
          channel.unread = (channel.unread || 0) + 1;
        }
      } else if (channel && event.message.author_id !== this.session.user_id) {
        channel.unread = (channel.unread || 0) + 1;
      } else if (!channel) {
        this.reload();
      }
      this.drawChannels();
    } else if (event.type === "chat.read") {
      const channel = this.channels.get(event.channel_id);
      if (channel) { channel.unread = 0; this.drawChannels(); }
    } else if (event.type === "chat.channel_created") {
      this.reload();
    }
  }
}
