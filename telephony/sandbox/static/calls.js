// The patient-phone page's voice half: call the practice, answer its calls, press keys, say words,
// and read what the caller hears. Long-polls /sandbox/phones/{phone}/calls; text via textContent only.

const $ = (id) => document.getElementById(id);
const phoneInput = $("phone");
const practiceSelect = $("practice");
const panel = $("call-panel");
const callState = $("call-state");
const heard = $("heard");
const callNotice = $("call-notice");
const E164 = /^\+[1-9]\d{1,14}$/;
const LIVE = ["queued", "ringing", "in-progress"];

let seq = -1;
let poll = null;
let current = null; // the call this phone is on, or that rings it

function phone() {
  const value = phoneInput.value.trim();
  return E164.test(value) ? value : "";
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || "HTTP " + response.status);
  return answer;
}

function describe(call) {
  const mine = call.from === phone();
  const other = mine ? call.to : call.from;
  if (call.status === "ringing" && !mine) return "Incoming call from " + other;
  if (call.status === "ringing") return "Calling " + other + "…";
  if (call.status === "in-progress") {
    return (call.listening ? "Listening for your " + (call.listening === "Gather" ? "answer" : "message") : "On a call")
      + " with " + other;
  }
  return "Call with " + other + " ended (" + call.status + ")";
}

function render(calls) {
  const live = calls.filter((c) => LIVE.includes(c.status));
  current = live[live.length - 1] || calls[calls.length - 1] || null;
  const ringingMe = current && current.status === "ringing" && current.to === phone();
  const onCall = current && LIVE.includes(current.status);
  panel.dataset.state = !current ? "idle" : ringingMe ? "incoming" : onCall ? "live" : "ended";
  callState.textContent = current ? describe(current) : "No call.";
  $("call-button").hidden = Boolean(onCall);
  $("answer-button").hidden = !ringingMe;
  $("decline-button").hidden = !ringingMe;
  $("hangup-button").hidden = !onCall || ringingMe;
  $("keypad").hidden = !onCall || ringingMe;
  $("say-form").hidden = !onCall || ringingMe;
  const lines = current ? current.heard.map((h) => {
    const item = document.createElement("li");
    item.textContent = h.verb === "Say" ? "“" + h.text + "”"
      : h.verb === "Play" ? "♪ " + (h.url || "tones " + h.digits)
      : h.verb === "Beep" ? "beep" : "(silence)";
    return item;
  }) : [];
  heard.replaceChildren(...lines);
}

async function loop() {
  const controller = new AbortController();
  poll = controller;
  while (poll === controller) {
    const number = phone();
    if (!number) { render([]); return; }
    try {
      const params = new URLSearchParams({ after: String(seq), wait: "25" });
      const response = await fetch("/sandbox/phones/" + encodeURIComponent(number) + "/calls?" + params,
        { signal: controller.signal });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const state = await response.json();
      if (poll !== controller) return;
      seq = state.seq;
      render(state.calls);
    } catch (error) {
      if (controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

function restart() {
  if (poll) poll.abort();
  seq = -1;
  loop();
}

async function act(action) {
  callNotice.textContent = "";
  try {
    await action();
  } catch (error) {
    callNotice.textContent = error.message;
  }
}

$("call-button").addEventListener("click", () => act(async () => {
  if (!phone()) throw new Error("Enter this phone's number first (E.164, like +12025550143).");
  await post("/sandbox/phones/" + encodeURIComponent(phone()) + "/calls", { to: practiceSelect.value });
}));
$("answer-button").addEventListener("click", () => act(() => post("/sandbox/calls/" + current.call_sid + "/answer")));
$("decline-button").addEventListener("click", () => act(() => post("/sandbox/calls/" + current.call_sid + "/decline")));
$("hangup-button").addEventListener("click", () => act(() => post("/sandbox/calls/" + current.call_sid + "/hangup")));
for (const key of $("keypad").querySelectorAll("button")) {
  key.addEventListener("click", () => act(async () => {
    const answer = await post("/sandbox/calls/" + current.call_sid + "/digits", { digits: key.dataset.key })
      .catch((error) => ({ error }));
    if (answer.error) callNotice.textContent = "Nobody is listening for keys right now.";
  }));
}
$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("say-text").value.trim();
  if (!text) return;
  act(async () => {
    await post("/sandbox/calls/" + current.call_sid + "/speech", { text });
    $("say-text").value = "";
  });
});

phoneInput.addEventListener("change", restart);
restart();
