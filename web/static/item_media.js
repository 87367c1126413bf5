// Pictures and attachments on a timeline item, always through the authorized media URL.
import { h } from "/static/dom.js";
import { openViewer } from "/static/media_viewer.js";

const ALT = "Picture from the patient";

function openFromThumb(e) {
  if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;  // a new tab still works
  e.preventDefault();
  const thumb = e.currentTarget;
  const all = [...(thumb.closest(".timeline") || thumb.parentElement).querySelectorAll("a.thumb")];
  const pictures = all.map((a) => ({ url: a.getAttribute("href"), alt: a.querySelector("img").alt }));
  openViewer(pictures, Math.max(0, all.indexOf(thumb)));
}

export function mediaEls(item) {
  return ((item.meta || {}).media || []).map((m) => {
    if (m.state !== "stored") {
      return h("div", { class: "media-missing" }, m.state === "pending" ? "Picture loading…" : `File not kept: ${m.error || m.state}`);
    }
    const url = `/api/v1/media/${m.id}`;
    return (m.content_type || "").startsWith("image/")
      ? h("a", { href: url, class: "thumb", "aria-label": "View picture", dataset: { media: m.id }, onclick: openFromThumb },
        h("img", { src: url, alt: ALT, loading: "lazy" }))
      : h("a", { href: url, class: "attachment" }, `Attachment (${m.content_type})`);
  });
}
