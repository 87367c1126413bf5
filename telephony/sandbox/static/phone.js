// The patient-phone page: long-polls the sandbox for this phone's conversation and sends texts.
// Every piece of text is rendered with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const phoneInput = $("phone");
const practiceSelect = $("practice");
const thread = $("thread");
const notice = $("notice"); // what happened to the last send
const optout = $("optout"); // whether this phone is opted out of the chosen practice number
const form = $("composer");
const sendButton = $("send");

const E164 = /^\+[1-9]\d{1,14}$/;
let seq = -1;
let poll = null; // AbortController of the running long poll

phoneInput.value = new URLSearchParams(location.search).get("phone") || localStorage.getItem("sandbox-phone") || "";

function currentPhone() {
  const value = phoneInput.value.trim();
  return E164.test(value) ? value : "";
}

function fillSelect(select, values) {
  const chosen = select.value;
  const known = Array.from(select.options, (o) => o.value);
  if (known.join() === values.join()) return;
  select.replaceChildren(...values.map((v) => new Option(v, v)));
  if (values.includes(chosen)) select.value = chosen;
}

function fillPhones(phones) {
  $("phones").replaceChildren(...phones.map((p) => new Option(p, p)));
}

function bubble(message) {
  const node = document.createElement("div");
  node.className = "bubble " + (message.mine ? "mine" : "theirs");
  const lost = message.status === "undelivered" || message.status === "failed";
  if (lost) node.classList.add("lost");
  for (const media of message.media) {
    if (!/^(https?:\/\/|\/phone\/media\/)/.test(media.url)) continue;
    const img = document.createElement("img");
    img.src = media.url;
    img.alt = "picture";
    node.append(img);
  }
  if (message.body) node.append(document.createTextNode(message.body));
  const meta = document.createElement("div");
  meta.className = "meta";
  const time = new Date(message.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  let text = (message.mine ? "to " : "from ") + message.practice + " · " + time;
  if (lost) text += " · never arrived (" + message.error_code + ")";
  meta.textContent = text;
  node.append(meta);
  return node;
}

function render(state) {
  fillSelect(practiceSelect, state.numbers);
  fillPhones(state.phones);
  const phone = currentPhone();
  // A handset only shows what reached it: the practice's texts appear once delivered (or failed, greyed).
  const shown = state.messages.filter(
    (m) => m.mine || ["delivered", "undelivered", "failed", "read"].includes(m.status),
  );
  if (!phone) {
    thread.replaceChildren(Object.assign(document.createElement("p"), {
      className: "empty", textContent: "Enter this phone's number (E.164, like +12025550143) to begin.",
    }));
  } else if (!shown.length) {
    thread.replaceChildren(Object.assign(document.createElement("p"), {
      className: "empty", textContent: "No texts yet.",
    }));
  } else {
    const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    thread.replaceChildren(...shown.map(bubble));
    if (atBottom || seq < 0) thread.scrollTop = thread.scrollHeight;
  }
  const out = state.opted_out.includes(practiceSelect.value);
  optout.textContent = out ? "This phone has opted out of " + practiceSelect.value + " (text START to rejoin)." : "";
}

async function loop() {
  const controller = new AbortController();
  poll = controller;
  while (poll === controller) {
    const params = new URLSearchParams({ phone: currentPhone(), after: String(seq), wait: "25" });
    try {
      const response = await fetch("/phone/api/state?" + params, { signal: controller.signal });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const state = await response.json();
      if (poll !== controller) return;
      if (notice.dataset.source === "poll") notice.textContent = "";
      render(state);
      seq = state.seq;
    } catch (error) {
      if (controller.signal.aborted) return;
      notice.textContent = "Sandbox unreachable, retrying…";
      notice.dataset.source = "poll";
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

function restart() {
  if (poll) poll.abort();
  seq = -1;
  const phone = currentPhone();
  if (phone) localStorage.setItem("sandbox-phone", phone);
  loop();
}

phoneInput.addEventListener("change", restart);
practiceSelect.addEventListener("change", restart);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const phone = currentPhone();
  if (!phone) {
    notice.textContent = "Enter this phone's number first (E.164, like +12025550143).";
    return;
  }
  const data = new FormData();
  data.append("phone", phone);
  data.append("practice", practiceSelect.value);
  data.append("body", $("body").value);
  const picture = $("picture").files[0];
  if (picture) data.append("picture", picture);
  sendButton.disabled = true;
  notice.textContent = "";
  notice.dataset.source = "send";
  try {
    const response = await fetch("/phone/api/send", { method: "POST", body: data });
    const answer = await response.json();
    if (!response.ok) {
      notice.textContent = answer.error || "Not sent.";
      return;
    }
    $("body").value = "";
    $("picture").value = "";
    if (answer.status === null || answer.status >= 400) {
      notice.textContent = "Sent, but the practice's server answered " + (answer.status ?? "nothing") + ".";
    }
  } catch (error) {
    notice.textContent = "Sandbox unreachable.";
  } finally {
    sendButton.disabled = false;
  }
});

$("body").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

restart();
