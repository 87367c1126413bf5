// Pictures and attachments on a timeline item, always through the authorized media URL.
import { h } from "/static/dom.js";

export function mediaEls(item) {
  return ((item.meta || {}).media || []).map((m) => {
    if (m.state !== "stored") {
      return h("div", { class: "media-missing" }, m.state === "pending" ? "Picture loading…" : `File not kept: ${m.error || m.state}`);
    }
    const url = `/api/v1/media/${m.id}`;
    return (m.content_type || "").startsWith("image/")
      ? h("a", { href: url, target: "_blank", rel: "noopener", class: "thumb" }, h("img", { src: url, alt: "Picture from the patient", loading: "lazy" }))
      : h("a", { href: url, class: "attachment" }, `Attachment (${m.content_type})`);
  });
}
