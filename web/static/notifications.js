// The bell: mentions, hand-offs and replies to reminders that need me, live; opening one goes to its thread or channel.
import { api } from "/static/api.js";
import { clear, h, when } from "/static/dom.js";

const SVG = "http://www.w3.org/2000/svg";

// Drawn, not an emoji: a desk PC without an emoji font shows an empty box for one.
function bellIcon() {
  const svg = document.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: "18", height: "18", "aria-hidden": "true", class: "bell-icon" })) {
    svg.setAttribute(k, v);
  }
  const body = document.createElementNS(SVG, "path");
  body.setAttribute("d", "M12 3.5a5.5 5.5 0 0 0-5.5 5.5v4.2L4.8 16.5h14.4l-1.7-3.3V9A5.5 5.5 0 0 0 12 3.5z");
  const clapper = document.createElementNS(SVG, "circle");
  for (const [k, v] of Object.entries({ cx: "12", cy: "19.2", r: "1.8" })) clapper.setAttribute(k, v);
  svg.append(body, clapper);
  return svg;
}

export class Notifications {
  constructor(button, panel, staff, inbox, chat) {
    Object.assign(this, { button, panel, staff, inbox, chat });
    this.items = [];
    button.addEventListener("click", () => { panel.hidden = !panel.hidden; this.draw(); });
  }

  async reload() {
    this.items = await api("GET", "/api/v1/notifications");
    this.draw();
  }

  describe(n) {
    const who = this.staff.get(n.actor_id)?.name || "Someone";
    if (n.kind === "assigned") return `${who} assigned you a conversation`;
    if (n.kind === "reminder_reply") return "Reply to a reminder needs a look";
    if (n.kind === "reschedule_ask") return "A patient asks to reschedule";
    if (n.chat_channel_id) return `${who} mentioned you in team chat`;
    return `${who} mentioned you in a note`;
  }

  draw() {
    const count = this.items.length;
    clear(this.button).append(bellIcon(), count ? h("span", { class: "count" }, String(count)) : "");
    this.button.setAttribute("aria-label", `${count} unread notifications`);
    clear(this.panel);
    if (!count) { this.panel.append(h("p", {}, "Nothing new.")); return; }
    this.panel.append(h("button", { class: "link", onclick: () => this.read(null) }, "Mark all read"));
    for (const n of this.items) {
      this.panel.append(h("button", { class: "notification", dataset: { notification: n.id }, onclick: () => this.openOne(n) },
        this.describe(n), h("time", { datetime: n.created_at }, ` · ${when(n.created_at)}`)));
    }
  }

  async openOne(n) {
    this.panel.hidden = true;
    if (n.conversation_id) await this.inbox.open(n.conversation_id);
    else if (n.chat_channel_id) await this.chat.open(n.chat_channel_id);
    await this.read([n.id]);
  }

  async read(ids) {
    await api("POST", "/api/v1/notifications/read", { ids });
    this.items = ids ? this.items.filter((n) => !ids.includes(n.id)) : [];
    this.draw();
  }

  onEvent(event) {
    if (event.type === "notification.created") {
      this.items.unshift(event.notification);
      this.draw();
    } else if (event.type === "notification.read") {
      this.items = event.all ? [] : this.items.filter((n) => !(event.ids || []).includes(n.id));
      this.draw();
    }
  }
}
