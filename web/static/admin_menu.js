// The administrators' tools (calendar set-up, forms, patient import) behind one "Admin" menu button,
// so the top bar keeps to one row on a 1366-pixel front-desk screen.
import { h } from "/static/dom.js";

/**
 * A menu button over `tools` ({ label, className, testId, open }). Enter, Space or a click opens it,
 * arrows move, Escape or Tab closes it; focus goes back to the button, which a dialog then returns to.
 */
export function adminMenu(tools) {
  const button = h("button", { type: "button", class: "admin-menu", "data-testid": "admin-menu", "aria-haspopup": "menu",
    "aria-expanded": "false", "aria-controls": "admin-tools" }, "Admin ", h("span", { "aria-hidden": "true" }, "▾"));
  const items = tools.map((tool) => h("button", { type: "button", role: "menuitem", tabindex: "-1", class: tool.className,
    "data-testid": tool.testId || null, onclick: () => { open(false, true); tool.open(); } }, tool.label));
  const menu = h("div", { class: "menu admin-tools", id: "admin-tools", role: "menu", "aria-label": "Admin tools", hidden: true },
    ...items);
  const wrap = h("div", { class: "menu-wrap admin" }, button, menu);
  const outside = (e) => { if (!wrap.contains(e.target)) open(false); };
  const focusItem = (index) => items[(index + items.length) % items.length].focus();
  function open(show, refocus = false) {
    menu.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    document.removeEventListener("click", outside);
    if (show) {
      setTimeout(() => document.addEventListener("click", outside));  // not the click that opened it
      focusItem(0);
    } else if (refocus) {
      button.focus();
    }
  }
  button.addEventListener("click", () => open(menu.hidden));
  button.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      open(true);
      if (e.key === "ArrowUp") focusItem(-1);
    }
  });
  menu.addEventListener("keydown", (e) => {
    const index = items.indexOf(document.activeElement);
    const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: -1 };
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); open(false, true); }
    else if (e.key in moves) { e.preventDefault(); focusItem(moves[e.key]); }
    else if (e.key === "Tab") open(false);
  });
  wrap.addEventListener("focusout", (e) => { if (e.relatedTarget && !wrap.contains(e.relatedTarget)) open(false); });
  return wrap;
}
