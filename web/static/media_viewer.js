// The picture viewer: a modal dialog over the thread with previous/next, Escape and a close button.
import { h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

/** Open the viewer on `pictures` ([{url, alt}]) at `index`. */
export function openViewer(pictures, index) {
  let at = index;
  const img = h("img", { class: "viewer-image", alt: "" });
  const caption = h("p", { class: "viewer-caption", "aria-live": "polite" });
  const original = h("a", { class: "link", target: "_blank", rel: "noopener" }, "Open the original");
  const prev = h("button", { type: "button", "aria-label": "Previous picture", onclick: () => show(at - 1) }, "‹ Previous");
  const next = h("button", { type: "button", "aria-label": "Next picture", onclick: () => show(at + 1) }, "Next ›");
  function show(i) {
    at = Math.max(0, Math.min(pictures.length - 1, i));
    const picture = pictures[at];
    img.src = picture.url;
    img.alt = picture.alt;
    original.href = picture.url;
    caption.textContent = `Picture ${at + 1} of ${pictures.length}`;
    const focused = document.activeElement;
    prev.disabled = at === 0;
    next.disabled = at === pictures.length - 1;
    if (focused && focused.disabled) (focused === next ? prev : next).focus();  // keep focus in the dialog
  }
  show(at);
  return openDialog({
    title: "Picture",
    className: "viewer",
    testId: "picture-viewer",
    content: [h("figure", {}, img, h("figcaption", {}, caption)), h("div", { class: "viewer-nav" }, prev, original, next)],
    onKey: (e) => {
      if (e.key === "ArrowLeft") { show(at - 1); return true; }
      if (e.key === "ArrowRight") { show(at + 1); return true; }
      return false;
    },
  });
}
