// Keyboard shortcuts for the common moves; never while typing, never with a modifier held.
import { h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

const TYPING = "input, textarea, select, [contenteditable=''], [contenteditable=true]";

/** The shortcut table: key, what it does (as the help overlay says), and the move. */
export function shortcutTable({ inbox, search, chat }) {
  const table = [
    { key: "j", label: "Next conversation", run: () => inbox.move(1) },
    { key: "k", label: "Previous conversation", run: () => inbox.move(-1) },
    { key: "r", label: "Reply to the patient", run: () => inbox.focusComposer("reply") },
    { key: "n", label: "Write an internal note", run: () => inbox.focusComposer("note") },
    { key: "e", label: "Close the conversation", run: () => { if (inbox.current) inbox.setStatus("closed"); } },
    { key: "/", label: "Search patients and messages", run: () => search.focus() },
    { key: "c", label: "Show or hide team chat", run: () => chat.toggle() },
    { key: "?", label: "Show these shortcuts", run: () => showHelp(table) },
  ];
  return table;
}

export function showHelp(table) {
  if (document.querySelector("dialog.shortcut-help")) return;
  const rows = table.map((s) => h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, s.key)), h("td", {}, s.label)));
  openDialog({
    title: "Keyboard shortcuts",
    className: "shortcut-help",
    testId: "shortcut-help",
    content: [
      h("table", {}, h("caption", { class: "visually-hidden" }, "Keyboard shortcuts"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Does"))),
        h("tbody", {}, rows)),
      h("p", { class: "hint" }, "Shortcuts do nothing while you type in a field; Escape leaves a dialog."),
    ],
  });
}

/** Listen for the shortcuts on the document; returns the function that stops listening. */
export function installShortcuts(table) {
  const byKey = new Map(table.map((s) => [s.key, s]));
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (e.target instanceof Element && e.target.closest(TYPING)) return;
    if (document.querySelector("dialog[open]")) return;
    const shortcut = byKey.get(e.key);
    if (!shortcut) return;
    e.preventDefault();
    shortcut.run();
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
