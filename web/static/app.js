// Staff UI entry: sign in, then the live inbox and team chat over one resumable socket.
import { Dashboard } from "/static/analytics.js";
import { api, setCsrf } from "/static/api.js";
import { Chat } from "/static/chat.js";
import { ChatDrawer } from "/static/chat_drawer.js";
import { openImport } from "/static/contact_import.js";
import { adminMenu } from "/static/admin_menu.js";
import { clear, h } from "/static/dom.js";
import { Inbox } from "/static/inbox.js";
import { LiveSocket } from "/static/live.js";
import { Notifications } from "/static/notifications.js";
import { openPayments } from "/static/open_payments.js";
import { Presence } from "/static/presence.js";
import { openSchedule } from "/static/schedule_view.js";
import { openFormBuilder } from "/static/form_builder.js";
import { openCalendarSetup } from "/static/calendar_setup.js";
import { Softphone } from "/static/softphone.js";
import { SearchBox } from "/static/search.js";
import { installShortcuts, shortcutTable, showHelp } from "/static/shortcuts.js";

const app = document.getElementById("app");
const RESYNC_GRACE_MS = 150;
let stopShortcuts = () => {};

function showLogin(message) {
  stopShortcuts();
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
  h("p", { class: "hint" }, "Sign in to your practice's inbox."),
  h("label", {}, "E-mail", email),
  h("label", {}, "Password", password),
  h("button", { type: "submit", class: "primary" }, "Sign in"), error);
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

/** What the connection line says; a resync says what really happened instead of "0 missed". */
function connectionStatus(el) {
  let resyncing = false;
  let pending = null;
  const show = (text, state) => { el.textContent = text; el.dataset.state = state; };
  return {
    onStatus(text) {
      clearTimeout(pending);
      if (resyncing && text.startsWith("back")) return;
      // The socket says "back, 0 missed" just before it says "resync" (the gap was too long to
      // replay): wait a moment so that untrue line is never shown.
      if (text.startsWith("back")) pending = setTimeout(() => show(text, "up"), RESYNC_GRACE_MS);
      else show(text, text.startsWith("reconnecting") ? "down" : "up");
    },
    async onResync(reloads) {
      clearTimeout(pending);
      resyncing = true;
      show("reloading after a long gap…", "up");
      await Promise.allSettled(reloads());
      resyncing = false;
      show("back, reloaded after a long gap", "up");
    },
  };
}

async function showInbox(session) {
  setCsrf(session.csrf_token);
  const staff = await loadStaff();
  const status = h("span", { class: "connection", "data-testid": "connection", role: "status" }, "connecting…");
  const connection = connectionStatus(status);
  const inboxRoot = h("div", { class: "inbox" });
  const chatRoot = h("aside", { class: "chat", "aria-label": "Team chat" });
  const panes = h("div", { class: "panes" }, inboxRoot, chatRoot);
  const logout = h("button", { type: "button", class: "logout" }, "Sign out");
  const bell = h("button", { type: "button", class: "bell", "data-testid": "bell", "aria-haspopup": "true", "aria-label": "Notifications" });
  const bellPanel = h("div", { class: "bell-panel", role: "dialog", "aria-label": "Notifications", hidden: true });
  const phoneRoot = h("section", { class: "phone", "aria-label": "Phone" });
  const inbox = new Inbox(inboxRoot, session, staff);
  const chat = new Chat(chatRoot, session, staff);
  const softphone = new Softphone(phoneRoot, session, staff, { openConversation: (id) => inbox.open(id) });
  inbox.thread.onCall = (conversationId, number) => softphone.call(conversationId, number);
  const drawer = new ChatDrawer(panes, chatRoot, chat);
  const search = new SearchBox({ onOpen: (id) => inbox.open(id) });
  const chatControl = { toggle: () => drawer.toggle() };
  const table = shortcutTable({ inbox, search, chat: chatControl });
  const help = h("button", { type: "button", class: "help", "aria-label": "Keyboard shortcuts", title: "Keyboard shortcuts (?)",
    onclick: () => showHelp(table) }, "?");
  let schedule = null;  // the open schedule view, kept live by the socket's events
  const scheduleButton = h("button", { type: "button", class: "schedule", "data-testid": "open-schedule", onclick: () => {
    schedule = openSchedule({ onOpen: (id) => inbox.open(id) });
    schedule.done.then(() => { schedule = null; });
  } }, "Schedule");
  const reportsRoot = h("section", { class: "reports", "aria-label": "Reports", hidden: true });
  const reportsButton = h("button", { type: "button", class: "reports-toggle", "aria-pressed": "false" }, "Reports");
  const dashboard = new Dashboard(reportsRoot, session, {
    staff,
    openConversation: (id) => { showReports(false); inbox.open(id); },
  });
  const showReports = (on) => {
    reportsRoot.hidden = !on;
    panes.hidden = on;
    reportsButton.setAttribute("aria-pressed", String(on));
    reportsButton.textContent = on ? "Inbox" : "Reports";
    if (on) dashboard.show().catch(() => {});
  };
  reportsButton.addEventListener("click", () => showReports(reportsRoot.hidden));
  const paymentsButton = h("button", { type: "button", class: "open-payments", "data-testid": "open-payments-button",
    onclick: () => openPayments({ onOpen: (id) => inbox.open(id) }) }, "Payments");
  const adminTools = session.role === "admin"
    ? adminMenu([
      { label: "Calendar set-up", className: "calendar-setup", open: () => openCalendarSetup() },
      { label: "Forms", className: "forms", testId: "open-forms", open: () => openFormBuilder() },
      { label: "Import patients", className: "import", open: () => openImport() },
    ])
    : null;
  clear(app).append(
    h("header", { class: "top" }, h("strong", { class: "brand" }, "Frontdesk"), status, search.el,
      h("span", { class: "who" }, session.name), phoneRoot, scheduleButton, paymentsButton, reportsButton, adminTools,
        drawer.button, bell, help, logout),
    bellPanel,
    panes,
    reportsRoot,
  );
  api("GET", "/api/v1/teams").then((teams) => { inbox.teams = teams; }).catch(() => {});
  const live = new LiveSocket({
    onEvent: (event) => {
      inbox.onEvent(event); chat.onEvent(event); softphone.onEvent(event); presence.onEvent(event); notes.onEvent(event);
      if (schedule) schedule.onEvent(event);
    },
    onStatus: (text) => connection.onStatus(text),
    onResync: () => connection.onResync(() => [inbox.reload(), chat.reload(), notes.reload()]),
    onEnded: () => showLogin("Your session has ended. Sign in again."),
  });
  const presence = new Presence(live, session, staff, inbox, chat);
  const notes = new Notifications(bell, bellPanel, staff, inbox, chat);
  notes.reload().catch(() => {});
  live.onLive = () => presence.connected();
  inbox.onViewing = (conversationId, typing) => presence.report(conversationId, typing);
  stopShortcuts();
  stopShortcuts = installShortcuts(table);  // before anything is awaited: keys work once the page shows
  window.frontdesk = { live, inbox, chat, presence, drawer, softphone, dashboard };  // for tests and the console
  live.start();
  softphone.start();
  await inbox.reload();
  chat.reload().catch(() => {});
  logout.addEventListener("click", async () => {
    live.stop();
    await api("DELETE", "/api/v1/session");
    showLogin();
  });
}

api("GET", "/api/v1/session").then(showInbox, () => showLogin());
