// The thread's composer: text, e-mail or internal note, with the SMS segment count and send-later.
import { api } from "/static/api.js";
import { h } from "/static/dom.js";
import { attachmentPicker, sendEmail } from "/static/email_view.js";
import { countSegments } from "/static/segments.js";

/**
 * A composer form for conversation `conversationId`. `onSent(item)` shows what was stored,
 * `onOptedOut()` reacts to a refused text, `onTyping()` is called at most every 4 s while typing.
 */
export function makeComposer({ conversationId, onSent, onOptedOut, onTyping }) {
  const text = h("textarea", { name: "body", rows: 3, "aria-label": "Message" });
  const channel = h("select", { "aria-label": "Channel", name: "channel" },
    h("option", { value: "sms" }, "Text message"),
    h("option", { value: "note" }, "Internal note"),
    h("option", { value: "email" }, "E-mail"));
  const subject = h("input", { name: "subject", "aria-label": "Subject", placeholder: "Subject (default: Re: the last e-mail)" });
  const counter = h("span", { class: "counter", "data-testid": "segments", "aria-live": "polite" });
  const later = h("input", { type: "datetime-local", name: "send_at", "aria-label": "Send later at" });
  const laterBox = h("label", { class: "later" }, "Send later ", later);
  const submit = h("button", { type: "submit" }, "Send");
  const error = h("p", { class: "error", role: "alert" });
  const files = attachmentPicker();
  const update = () => {
    const sms = channel.value === "sms";
    text.placeholder = sms ? "Text the patient… (Ctrl+Enter sends)" : "Write an internal note… (@name to mention)";
    submit.textContent = sms ? (later.value ? "Schedule" : "Send text") : channel.value === "email" ? "Send e-mail" : "Add note";
    laterBox.hidden = !sms;
    subject.hidden = files.el.hidden = channel.value !== "email";
    if (sms && text.value) {
      const c = countSegments(text.value);
      counter.textContent = `${c.characters} characters · ${c.segments} segment${c.segments > 1 ? "s" : ""} (${c.encoding})`;
    } else counter.textContent = "";
  };
  const form = h("form", { class: "composer", onsubmit: async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    try {
      let item;
      if (channel.value === "sms") {
        const body = { channel: "sms", body: text.value };
        if (later.value) body.send_at = new Date(later.value).toISOString();
        item = await api("POST", `/api/v1/conversations/${conversationId}/messages`, body);
      } else if (channel.value === "email") {
        item = await sendEmail(conversationId, { body: text.value, subject: subject.value, files: files.files() });
        subject.value = "";
        files.clear();
      } else {
        item = await api("POST", `/api/v1/conversations/${conversationId}/notes`, { body: text.value });
      }
      onSent(item);
      text.value = "";
      later.value = "";
      error.textContent = "";
      update();
    } catch (err) {
      error.textContent = err.message;
      if (err.code === "opted_out") onOptedOut();
    }
  } }, channel, counter, subject, text, files.el, laterBox, submit, error);
  form.refresh = update;
  form.showError = (message) => { error.textContent = message; };
  /** Enable only the channels this patient has: texts need a phone and no STOP, e-mail an address. */
  form.setChannels = (contact, optedOut) => {
    const sms = channel.querySelector("option[value=sms]"), email = channel.querySelector("option[value=email]");
    const noSms = !contact.phones.length ? "no phone number" : optedOut ? "opted out" : "";
    sms.disabled = Boolean(noSms);
    sms.textContent = noSms ? `Text message (${noSms})` : "Text message";
    email.disabled = !contact.emails.length;
    email.textContent = email.disabled ? "E-mail (no address)" : "E-mail";
    if (channel.selectedOptions[0]?.disabled) { channel.value = "note"; update(); }
  };
  /** "reply": the patient's channel (a text, else an e-mail); "note": an internal note. */
  form.choose = (mode) => {
    const usable = (value) => !channel.querySelector(`option[value=${value}]`).disabled;
    const pick = mode === "note" ? "note" : ["sms", "email"].find(usable);
    if (pick && !(mode === "reply" && ["sms", "email"].includes(channel.value) && usable(channel.value))) channel.value = pick;
    update();
  };
  channel.addEventListener("change", update);
  later.addEventListener("change", update);
  text.addEventListener("input", update);
  let typingSent = 0;
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
    else if (Date.now() - typingSent > 4000) {
      typingSent = Date.now();
      onTyping();
    }
  });
  update();
  return form;
}
