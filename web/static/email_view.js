// E-mail in the thread: the sanitized HTML in a sandboxed frame, folded quotes, files, and the composer's
// attachments. The frame's page comes from the server with a CSP that loads nothing from outside; remote
// pictures only after staff press "Load remote images" for that one message.
import { api } from "/static/api.js";
import { h } from "/static/dom.js";

const FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"; // links open in a new tab; no scripts
const MAX_FILES = 10;

export function formatSize(bytes) {
  if (bytes === undefined || bytes === null) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function textView(item) {
  const meta = item.meta || {};
  const fresh = meta.new_text !== undefined && meta.new_text !== "" ? meta.new_text : item.body;
  const parts = [h("div", { class: "body" }, fresh)];
  if (meta.quoted) {
    const quoted = h("div", { class: "body quoted", hidden: true }, meta.quoted);
    parts.push(h("button", { class: "link", type: "button", "aria-expanded": "false", onclick: (e) => {
      quoted.hidden = !quoted.hidden;
      e.target.setAttribute("aria-expanded", String(!quoted.hidden));
      e.target.textContent = quoted.hidden ? "Show quoted text" : "Hide quoted text";
    } }, "Show quoted text"), quoted);
  }
  return h("div", { class: "email-text" }, parts);
}

function htmlView(item, text) {
  const meta = item.meta || {};
  const src = (remote) => `/api/v1/email/${item.id}/html${remote ? "?remote_images=true" : ""}`;
  const frame = h("iframe", {
    src: src(false), sandbox: FRAME_SANDBOX, referrerpolicy: "no-referrer", loading: "lazy",
    title: `E-mail: ${meta.subject || "(no subject)"}`, "data-testid": "email-html",
  });
  Object.assign(frame.style, { width: "100%", height: "100%", border: "0", background: "#fff" });
  const box = h("div", { class: "email-frame" }, frame);
  Object.assign(box.style, {
    height: "18rem", resize: "vertical", overflow: "hidden", border: "1px solid #d0d7de", borderRadius: "4px",
    marginTop: ".3rem",
  });
  text.hidden = true;
  const tools = [];
  if (meta.remote_images) {
    const note = h("span", { class: "item-status" }, "Remote images are blocked (they can tell the sender the mail was read).");
    const load = h("button", { class: "link", type: "button", "data-testid": "load-remote-images", onclick: () => {
      frame.src = src(true);
      load.disabled = true;
      note.textContent = "Remote images loaded for this message.";
    } }, "Load remote images");
    tools.push(load, " ", note, " ");
  }
  const toggle = h("button", { class: "link", type: "button", onclick: () => {
    const showText = text.hidden;
    text.hidden = !showText;
    box.hidden = showText;
    toggle.textContent = showText ? "Show formatted" : "Show plain text";
  } }, "Show plain text");
  tools.push(toggle);
  return [box, h("div", { class: "email-tools" }, tools)];
}

function attachmentList(item) {
  const files = (item.meta || {}).media || [];
  if (!files.length) return null;
  return h("ul", { class: "email-attachments", "aria-label": "Attachments" }, files.map((m) => {
    if (m.state !== "stored") return h("li", { class: "media-missing" }, `${m.filename || "File"}: not kept (${m.error || m.state})`);
    const label = `${m.filename || "attachment"}${m.inline ? " (in the message)" : ""}`;
    return h("li", {},
      h("a", { href: `/api/v1/email/attachments/${m.id}`, target: "_blank", rel: "noopener", class: "attachment" }, label),
      h("span", { class: "item-status" }, ` · ${formatSize(m.size)}`));
  }));
}

function unconfirmed(item) {
  if (item.status !== "unconfirmed") return null;
  const decide = (decision) => api("POST", `/api/v1/email/${item.id}/resolve`, { decision }).catch((e) => {
    box.append(h("div", { class: "item-error" }, e.message));
  });
  const box = h("div", { class: "item-error", role: "note", "data-testid": "email-unconfirmed" },
    (item.meta || {}).error || "Not confirmed by the mail server.", " ",
    h("button", { class: "link", type: "button", onclick: () => decide("resend") }, "Resend"), " ",
    h("button", { class: "link", type: "button", onclick: () => decide("sent") }, "Mark as sent"));
  return box;
}

// The body of an e-mail item in the timeline.
export function renderEmail(item) {
  const meta = item.meta || {};
  const text = textView(item);
  const hasHtml = item.direction === "in" && (meta.has_html || meta.html);
  const original = item.direction === "in" || meta.message_id
    ? h("a", { href: `/api/v1/email/${item.id}/raw`, class: "link", download: `email-${item.id}.eml` }, "Download original (.eml)")
    : null;
  return h("div", { class: "email" },
    h("div", { class: "subject" }, meta.subject || "(no subject)"),
    meta.auto_reply ? h("div", { class: "item-status" }, "Automatic reply") : null,
    hasHtml ? htmlView(item, text) : null,
    text,
    attachmentList(item),
    meta.warnings && meta.warnings.length ? h("div", { class: "item-status" }, `Note: ${meta.warnings.join("; ")}`) : null,
    unconfirmed(item),
    original ? h("div", { class: "email-tools" }, original) : null);
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

// The composer's file chooser (e-mail mode); the server checks types and sizes again.
export function attachmentPicker() {
  let chosen = [];
  const list = h("ul", { class: "email-attachments", "aria-label": "Files to attach" });
  const draw = () => {
    list.replaceChildren(...chosen.map((f, i) => h("li", {}, `${f.name} · ${formatSize(f.size)} `,
      h("button", { class: "link", type: "button", "aria-label": `Remove ${f.name}`, onclick: () => { chosen.splice(i, 1); draw(); } }, "remove"))));
  };
  const input = h("input", { type: "file", multiple: true, "aria-label": "Attach files", onchange: () => {
    chosen = chosen.concat([...input.files]).slice(0, MAX_FILES);
    input.value = "";
    draw();
  } });
  const el = h("div", { class: "email-attach" }, h("label", {}, "Attach ", input), list);
  return {
    el,
    files: () => chosen.slice(),
    clear: () => { chosen = []; draw(); },
  };
}

// Send an e-mail from the thread with the chosen files.
export async function sendEmail(conversationId, { body, subject, files }) {
  const attachments = await Promise.all((files || []).map(async (f) => ({
    filename: f.name, content_type: f.type || "application/octet-stream", content_base64: await readBase64(f),
  })));
  return api("POST", `/api/v1/conversations/${conversationId}/emails`, { body, subject: subject || null, attachments });
}
