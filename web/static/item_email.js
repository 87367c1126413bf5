// An e-mail in the timeline: subject, the new text, the quoted history folded away, parse warnings.
import { h } from "/static/dom.js";

export function emailBody(item) {
  const meta = item.meta || {};
  const fresh = meta.new_text !== undefined && meta.new_text !== "" ? meta.new_text : item.body;
  const parts = [
    h("div", { class: "subject" }, meta.subject || "(no subject)"),
    meta.auto_reply ? h("div", { class: "item-status" }, "Automatic reply") : null,
    h("div", { class: "body" }, fresh),
  ];
  if (meta.quoted) {
    const quoted = h("div", { class: "body quoted", hidden: true }, meta.quoted);
    parts.push(h("button", { class: "link", "aria-expanded": "false", onclick: (e) => {
      quoted.hidden = !quoted.hidden;
      e.target.setAttribute("aria-expanded", String(!quoted.hidden));
      e.target.textContent = quoted.hidden ? "Show quoted text" : "Hide quoted text";
    } }, "Show quoted text"), quoted);
  }
  if (meta.warnings && meta.warnings.length) parts.push(h("div", { class: "item-status" }, `Note: ${meta.warnings.join("; ")}`));
  return h("div", { class: "email" }, parts);
}
