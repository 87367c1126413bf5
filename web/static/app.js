// Staff UI entry: sign in, then hold one live socket that resumes from the last event id.
import { LiveSocket } from "/static/live.js";

const app = document.getElementById("app");

async function api(method, path, body, csrf) {
  const headers = { "Content-Type": "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) throw Object.assign(new Error(data.error.message), { code: data.error.code });
  return data;
}

function showLogin(message) {
  app.innerHTML = `<form class="login"><h1>Frontdesk</h1>
    <label>E-mail <input name="email" type="email" autocomplete="username" required></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button>Sign in</button><p class="error" role="alert"></p></form>`;
  const form = app.querySelector("form");
  form.querySelector(".error").textContent = message || "";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const session = await api("POST", "/api/v1/session",
        { email: form.email.value, password: form.password.value });
      showInbox(session);
    } catch (err) {
      form.querySelector(".error").textContent = err.message;
    }
  });
}

function showInbox(session) {
  app.innerHTML = `<header><strong>Frontdesk</strong> · <span class="who"></span>
    <button class="logout">Sign out</button></header>
    <p class="status" data-testid="connection">connecting…</p><ul class="events"></ul>`;
  app.querySelector(".who").textContent = session.name;
  const list = app.querySelector(".events");
  const status = app.querySelector(".status");
  const live = new LiveSocket({
    onEvent: (event) => {
      const li = document.createElement("li");
      li.textContent = `${event.type}: ${event.item ? event.item.body : ""}`;
      list.prepend(li);
    },
    onStatus: (text) => { status.textContent = text; },
    onResync: () => { list.innerHTML = ""; },
    onEnded: () => showLogin("Your session has ended."),
  });
  live.start();
  app.querySelector(".logout").addEventListener("click", async () => {
    live.stop();
    await api("DELETE", "/api/v1/session", null, session.csrf_token);
    showLogin();
  });
}

api("GET", "/api/v1/session").then(showInbox, () => showLogin());
