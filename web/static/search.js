// The search box: patients by name, phone or e-mail, and messages by text; a result opens its thread.
// What staff type is PHI, so it only ever travels in a POST body, never in a URL.
import { api } from "/static/api.js";
import { clear, h, when } from "/static/dom.js";

const DEBOUNCE_MS = 250;

export class SearchBox {
  constructor({ onOpen }) {
    this.onOpen = onOpen;
    this.generation = 0;
    this.input = h("input", {
      type: "search", name: "q", autocomplete: "off", placeholder: "Search patients and messages  ( / )",
      "aria-label": "Search patients and messages", "aria-controls": "search-results", "aria-expanded": "false",
    });
    this.results = h("div", { id: "search-results", class: "search-results", role: "region", "aria-label": "Search results", hidden: true });
    this.el = h("form", { class: "search", role: "search", onsubmit: (e) => { e.preventDefault(); this.run(); } },
      this.input, this.results);
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { e.preventDefault(); this.close(); this.input.blur(); }
      else if (e.key === "ArrowDown") { e.preventDefault(); this.results.querySelector("button")?.focus(); }
    });
    this.results.addEventListener("keydown", (e) => this.arrows(e));
    document.addEventListener("click", (e) => { if (!this.el.contains(e.target)) this.close(); });
  }

  focus() {
    this.input.focus();
    this.input.select();
  }

  close() {
    this.results.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
  }

  arrows(e) {
    const buttons = [...this.results.querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    if (e.key === "ArrowDown" && index < buttons.length - 1) { e.preventDefault(); buttons[index + 1].focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); (index > 0 ? buttons[index - 1] : this.input).focus(); }
    else if (e.key === "Escape") { e.preventDefault(); this.close(); this.input.focus(); }
  }

  async run() {
    const q = this.input.value.trim();
    clearTimeout(this.timer);
    if (!q) { this.close(); return; }
    const generation = ++this.generation;  // typing on: only the newest answer is drawn
    let found;
    try {
      found = await api("POST", "/api/v1/search", { q, limit: 20 });
    } catch (err) {
      if (generation === this.generation) this.show([h("p", { class: "error", role: "alert" }, err.message)]);
      return;
    }
    if (generation !== this.generation) return;
    this.show(this.draw(found));
  }

  draw(found) {
    const patients = found.conversations.map((c) => this.result(c.id, "patient",
      h("strong", {}, c.contact.name), h("span", { class: "muted" }, [...c.contact.phones, ...c.contact.emails].join(" · "))));
    const messages = found.messages.map((m) => this.result(m.conversation_id, "message",
      h("strong", {}, m.contact_name), h("time", { datetime: m.item.created_at }, ` ${when(m.item.created_at)}`),
      h("span", { class: "snippet" }, m.item.body)));
    const group = (title, rows) => h("section", { "aria-label": title },
      h("h3", {}, title), rows.length ? h("ul", {}, rows) : h("p", { class: "muted" }, "None found."));
    return [
      h("p", { class: "visually-hidden", role: "status" }, `${patients.length} patients and ${messages.length} messages found`),
      group("Patients", patients), group("Messages", messages),
    ];
  }

  result(conversationId, kind, ...parts) {
    return h("li", {}, h("button", { type: "button", class: `result ${kind}`, dataset: { conversation: conversationId },
      onclick: () => { this.close(); this.onOpen(conversationId); } }, parts));
  }

  show(children) {
    clear(this.results).append(...children);
    this.results.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }
}
