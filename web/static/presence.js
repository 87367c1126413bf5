// Presence: report this tab's state and thread; show who else is viewing or typing, and who is online.
const REFRESH_MS = 30000;

export class Presence {
  constructor(live, session, staff, inbox, chat) {
    Object.assign(this, { live, session, staff, inbox, chat });
    this.rows = new Map();
    this.conversationId = null;
    document.addEventListener("visibilitychange", () => this.report(this.conversationId, false));
    setInterval(() => this.report(this.conversationId, false), REFRESH_MS);
  }

  state() {
    return document.visibilityState === "visible" ? "online" : "away";
  }

  async connected() {
    await this.report(this.conversationId, false);
    await this.refresh();
  }

  async refresh() {
    try {
      const rows = await this.live.command("presence_snapshot");
      this.rows = new Map(rows.map((r) => [r.user_id, r]));
      this.draw();
    } catch { /* offline again: the next connect retries */ }
  }

  report(conversationId, typing) {
    this.conversationId = conversationId;
    return this.live.command("presence", { state: this.state(), conversation_id: conversationId, typing })
      .catch(() => {});
  }

  onEvent(event) {
    if (event.type !== "presence.changed") return;
    // Events are per socket; the snapshot merges sockets per person, so ask again (cheap, local).
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 150);
  }

  draw() {
    const rows = [...this.rows.values()];
    this.inbox.showPresence(rows);
    if (this.chat.showPresence) this.chat.showPresence(rows);
  }
}
