// Team chat docks beside the inbox on wide screens and slides in as a drawer on tablets; a header
// button (and the "c" key) shows or hides it, with the unread count on the button while it is hidden.
import { h } from "/static/dom.js";

const NARROW = window.matchMedia("(max-width: 1100px)");

export class ChatDrawer {
  constructor(panes, aside, chat) {
    Object.assign(this, { panes, aside, chat });
    this.button = h("button", { type: "button", class: "chat-toggle", "aria-controls": "team-chat", "data-testid": "chat-toggle",
      onclick: () => this.toggle() });
    aside.id = "team-chat";
    this.opened = { wide: true, narrow: false };  // remembered per layout
    aside.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && NARROW.matches) { e.preventDefault(); this.set(false); this.button.focus(); }
    });
    NARROW.addEventListener("change", () => this.apply());
    chat.isVisible = () => this.isOpen();
    chat.onUnreadChange = () => this.label();
    this.apply();
  }

  layout() { return NARROW.matches ? "narrow" : "wide"; }

  isOpen() { return this.opened[this.layout()]; }

  toggle() { this.set(!this.isOpen()); }

  set(open) {
    this.opened[this.layout()] = open;
    this.apply();
    if (open) {
      this.chat.shown();
      if (NARROW.matches) this.aside.querySelector("input[name=chat]")?.focus();
    }
  }

  apply() {
    const open = this.isOpen();
    this.panes.classList.toggle("chat-open", open);
    this.panes.classList.toggle("chat-closed", !open);
    this.aside.hidden = !open;
    this.label();
  }

  label() {
    const open = this.isOpen();
    const unread = open ? 0 : this.chat.totalUnread();
    this.button.setAttribute("aria-expanded", String(open));
    this.button.textContent = open ? "Hide team chat" : unread ? `Team chat · ${unread} unread` : "Team chat";
  }
}
