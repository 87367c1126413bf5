// Staff UI entry: sign in, then the live inbox and team chat over one resumable socket.
import { api, setCsrf } from "/static/api.js";
import { Chat } from "/static/chat.js";
import { clear, h } from "/static/dom.js";
import { Inbox } from "/static/inbox.js";
import { LiveSocket } from "/static/live.js";
import { Notifications } from "/static/notifications.js";
import { Presence } from "/static/presence.js";
import { Softphone } from "/static/softphone.js";

const app = document.getElementById("app");

function showLogin(message) {
  const email = h("input", { name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const session = await api("POST", "/api/v1/session", { email: email.value, password: password.value });
      await showInbox(session);
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h("h1", {}, "Frontdesk"),
  h("label", {}, "E-mail ", email),
  h("label", {}, "Password ", password),
  h("button", { type: "submit" }, "Sign in"), error);
  clear(app).append(form);
  email.focus();
}

async function loadStaff() {
  try {
    const staff = await api("GET", "/api/v1/staff");
    return new Map(staff.map((s) => [s.id, s]));
  } catch {
    return new Map();
  }
}

async function showInbox(session) {
  setCsrf(session.csrf_token);
  const staff = await loadStaff();
  const status = h("span", { class: "connection", "data-testid": "connection", role: "status" }, "connecting…");
  const inboxRoot = h("div", { class: "inbox" });
  const chatRoot = h("aside", { class: "chat", "aria-label": "Team chat" });
  const phoneRoot = h("section", { class: "phone", "aria-label": "Phone" });
  const logout = h("button", { class: "logout" }, "Sign out");
  const bell = h("button", { class: "bell", "data-testid": "bell", "aria-haspopup": "true" }, "🔔");
  const bellPanel = h("div", { class: "bell-panel", role: "dialog", "aria-label": "Notifications", hidden: true });
  clear(app).append(
    h("header", { class: "top" }, h("strong", {}, "Frontdesk"), status,
      h("span", { class: "who" }, session.name), bell, logout),
    bellPanel,
    h("div", { class: "panes" }, inboxRoot, h("div", { class: "side" }, phoneRoot, chatRoot)),
  );
  const inbox = new Inbox(inboxRoot, session, staff);
  api("GET", "/api/v1/teams").then((teams) => { inbox.teams = teams; }).catch(() => {});
  const chat = new Chat(chatRoot, session, staff);
  const softphone = new Softphone(phoneRoot, session, staff, { openConversation: (id) => inbox.open(id) });
  inbox.onCall = (conversationId, number) => softphone.call(conversationId, number);
  const live = new LiveSocket({
    onEvent: (event) => { inbox.onEvent(event); chat.onEvent(event); softphone.onEvent(event); presence.onEvent(event); notes.onEvent(event); },
    onStatus: (text) => { status.textContent = text; status.dataset.state = text.startsWith("reconnecting") ? "down" : "up"; },
    onResync: () => { inbox.reload(); chat.reload().catch(() => {}); notes.reload().catch(() => {}); },
    onEnded: () => showLogin("Your session has ended. Sign in again."),
  });
  const presence = new Presence(live, session, staff, inbox, chat);
  const notes = new Notifications(bell, bellPanel, staff, inbox, chat);
  notes.reload().catch(() => {});
  live.onLive = () => presence.connected();
  inbox.onViewing = (conversationId, typing) => presence.report(conversationId, typing);
  live.start();
  softphone.start();
  await inbox.reload();
  chat.reload().catch(() => {});
  logout.addEventListener("click", async () => {
    live.stop();
    await api("DELETE", "/api/v1/session");
    showLogin();
  });
  document.onkeydown = (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if (e.key === "j") inbox.move(1);
    else if (e.key === "k") inbox.move(-1);
    else if (e.key === "n" || e.key === "r") { e.preventDefault(); inbox.focusComposer(); }
    else if (e.key === "e" && inbox.current) inbox.setStatus("closed");
  };
  window.frontdesk = { live, inbox, chat, presence, softphone };  // for tests and the console
}

api("GET", "/api/v1/session").then(showInbox, () => showLogin());
