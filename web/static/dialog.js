// Modal dialogs on the native <dialog>: a title that names it, a close button, Escape, focus given back.
import { h } from "/static/dom.js";

let counter = 0;

/**
 * Show a modal dialog titled `title` holding `content`; resolves when it closes. `className` styles it,
 * `onKey(event)` sees keys first (return true when handled). The element that had focus gets it back.
 */
export function openDialog({ title, content, className = "", onKey, testId }) {
  const opener = document.activeElement;
  const titleId = `dialog-title-${++counter}`;
  const close = h("button", { type: "button", class: "dialog-close", "aria-label": "Close" }, "×");
  const dialog = h("dialog", { class: `dialog ${className}`, "aria-labelledby": titleId, "data-testid": testId || null },
    h("header", { class: "dialog-head" }, h("h2", { id: titleId }, title), close),
    h("div", { class: "dialog-body" }, content));
  document.body.append(dialog);
  // Keys are heard on the document: a button that just became disabled drops focus to <body>.
  const keys = (e) => {
    if (onKey && onKey(e)) { e.preventDefault(); e.stopPropagation(); }
  };
  if (onKey) document.addEventListener("keydown", keys);
  const done = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      document.removeEventListener("keydown", keys);
      dialog.remove();
      if (opener && opener.isConnected && opener.focus) opener.focus();
      resolve(dialog.returnValue);
    });
  });
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });  // the backdrop
  dialog.showModal();
  dialog.done = done;
  return dialog;
}
