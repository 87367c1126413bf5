// The patient's intake form: show-if conditions, checks as they type, progress saved as they go (the
// server decides what is kept), uploads, a drawn signature, and the submission. No login: the page's own
// path (/f/<token>) is the only key, so every request goes back to it.
const form = document.getElementById("intake");
const base = window.location.pathname.replace(/\/+$/, "");
const saved = document.getElementById("saved");
const formError = document.getElementById("form-error");
const maxUpload = Number(form.dataset.maxUpload || 0);
const fields = [...form.querySelectorAll(".field")];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function control(field) {
  return field.querySelector("input, select, canvas");
}

function valueOf(field) {
  const kind = field.dataset.kind;
  if (kind === "file" || kind === "signature") return field.dataset.upload ? Number(field.dataset.upload) : null;
  const el = control(field);
  if (kind === "checkbox") return el.checked;
  return el.value;
}

/** Hide fields whose condition does not hold (a hidden field hides those that depend on it). */
function applyConditions() {
  const shown = new Map();
  for (const field of fields) {
    const on = field.dataset.showField;
    let visible = true;
    if (on) visible = shown.has(on) && shown.get(on) === JSON.parse(field.dataset.showEquals);
    field.hidden = !visible;
    if (visible) shown.set(field.dataset.key, valueOf(field));
  }
}

function answers() {
  const out = {};
  for (const field of fields) {
    if (field.hidden) continue;
    const v = valueOf(field);
    if (v !== null && v !== "") out[field.dataset.key] = v;
  }
  return out;
}

function showError(field, message) {
  const error = field.querySelector(".error");
  error.textContent = message || "";
  const el = control(field);
  if (message) el.setAttribute("aria-invalid", "true");
  else el.removeAttribute("aria-invalid");
}

/** The same rules as the server's, for a message while typing (the server still decides). */
function localProblem(field, final) {
  const v = valueOf(field);
  const kind = field.dataset.kind;
  const empty = v === null || v === "" || v === false;
  if (empty) return final && field.dataset.required === "1" ? "This is required." : "";
  if (kind === "email" && !EMAIL.test(String(v).trim())) return "Please enter an e-mail address like name@example.com.";
  if (kind === "phone" && String(v).replace(/\D/g, "").length < 10) return "Please enter a phone number we can call, with its area code.";
  if (kind === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(v)) return "Please enter a real date (year-month-day).";
  return "";
}

async function send(method, path, body, type = "application/json") {
  const resp = await fetch(base + path, {
    method, body: type === "application/json" ? JSON.stringify(body) : body,
    headers: { "Content-Type": type }, credentials: "omit",
  });
  let data = {};
  try { data = await resp.json(); } catch { data = {}; }
  return { status: resp.status, data };
}

function closed(status, data) {
  if (status === 410 || status === 409 || status === 404) {
    form.replaceWith(Object.assign(document.createElement("p"), {
      className: "status", textContent: data.error ? data.error.message : "This form is closed.",
    }));
    return true;
  }
  return false;
}

let timer = null;
let saving = Promise.resolve();
function saveSoon() {
  clearTimeout(timer);
  saved.textContent = "";
  timer = setTimeout(() => { saving = saving.then(saveNow); }, 500);
}

async function saveNow() {
  const { status, data } = await send("PUT", "/draft", { answers: answers() });
  if (closed(status, data)) return;
  if (status !== 200) {
    saved.textContent = status === 429 && data.error ? data.error.message : "Could not save just now; we will try again.";
    return;
  }
  for (const field of fields) {
    const server = data.errors[field.dataset.key];
    if (server) showError(field, server);
  }
  saved.textContent = "Saved.";
  saved.dataset.at = String(Date.now());
}

async function upload(field, blob) {
  const state = field.querySelector("[data-upload-state]");
  if (maxUpload && blob.size > maxUpload) {
    showError(field, `The file is too large: the limit is ${Math.floor(maxUpload / 1048576)} MB.`);
    return;
  }
  state.textContent = "Uploading…";
  const { status, data } = await send("POST", `/uploads/${field.dataset.key}`, blob, blob.type || "application/octet-stream");
  if (closed(status, data)) return;
  if (status !== 201) {
    state.textContent = "";
    showError(field, data.error ? data.error.message : "The upload did not work. Please try again.");
    return;
  }
  field.dataset.upload = String(data.upload_id);
  showError(field, "");
  state.textContent = field.dataset.kind === "signature" ? "Signed." : "File received.";
  saveSoon();
}

function signaturePad(field) {
  const canvas = field.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.strokeStyle = "#111";
  let drawing = false;
  let drew = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...at(e));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    ctx.lineTo(...at(e));
    ctx.stroke();
    drew = true;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    if (drew) canvas.toBlob((blob) => blob && upload(field, blob), "image/png");
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  // Keyboard and screen-reader users sign by typing their name: it is drawn on the pad and sent the same way.
  const typed = field.querySelector("[data-typed]");
  field.querySelector("[data-type-sign]").addEventListener("click", () => {
    const name = typed.value.trim();
    if (!name) { showError(field, "Type your full name first."); typed.focus(); return; }
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "italic 56px Georgia, serif";
    ctx.fillStyle = "#111";
    ctx.fillText(name, 24, canvas.height * 0.62, canvas.width - 48);
    drew = true;
    canvas.toBlob((blob) => blob && upload(field, blob), "image/png");
  });
  field.querySelector("[data-clear]").addEventListener("click", () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drew = false;
    field.dataset.upload = "";
    field.querySelector("[data-upload-state]").textContent = "Sign with your finger or mouse.";
    saveSoon();
  });
}

for (const field of fields) {
  const kind = field.dataset.kind;
  if (kind === "signature") { signaturePad(field); continue; }
  const el = control(field);
  if (kind === "file") {
    el.addEventListener("change", () => { if (el.files[0]) upload(field, el.files[0]).finally(() => { el.value = ""; }); });
    continue;
  }
  el.addEventListener("input", () => {
    applyConditions();
    showError(field, localProblem(field, false));
    saveSoon();
  });
  el.addEventListener("change", () => { applyConditions(); saveSoon(); });
  el.addEventListener("blur", () => showError(field, localProblem(field, false)));
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearTimeout(timer);
  await saving;
  applyConditions();
  formError.textContent = "";
  let first = null;
  for (const field of fields) {
    if (field.hidden) continue;
    const problem = localProblem(field, true);
    showError(field, problem);
    if (problem && !first) first = field;
  }
  if (first) {
    formError.textContent = "Some answers need attention.";
    control(first).focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const { status, data } = await send("POST", "/submit", { answers: answers() });
  button.disabled = false;
  if (status === 200) {
    const done = Object.assign(document.createElement("p"), {
      className: "status", textContent: "Your form has been received. Thank you! You can close this page.",
    });
    done.dataset.status = "completed";
    form.replaceWith(done);
    return;
  }
  if (closed(status, data)) return;
  formError.textContent = data.error ? data.error.message : "The form could not be sent. Please try again.";
  for (const field of fields) {
    const server = (data.errors || {})[field.dataset.key];
    if (server) { showError(field, server); if (!first) first = field; }
  }
  if (first) control(first).focus();
});

applyConditions();
