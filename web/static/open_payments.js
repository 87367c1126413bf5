// The billing desk's list: a location's open payment requests (soonest to expire first), each with a
// way into its thread; one whose bank debit is still clearing is listed, marked "clearing", not as due.
import { api } from "/static/api.js";
import { clear, h, when } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";
import { money } from "/static/payment_items.js";

const WORDS = { sent: "sent", opened: "opened", partially_paid: "partly paid", failed: "payment failed", processing: "clearing" };

export async function openPayments({ onOpen }) {
  const locations = await api("GET", "/api/v1/locations");
  const select = h("select", { "aria-label": "Location" }, locations.map((l) => h("option", { value: l.id }, l.name)));
  const body = h("div", { class: "open-payments-list", "aria-live": "polite" });
  let dialog = null;
  async function draw() {
    clear(body).append(h("p", { class: "muted" }, "Loading…"));
    try {
      const rows = await api("GET", `/api/v1/locations/${select.value}/payment-requests`);
      const total = rows.reduce((sum, r) => sum + r.balance_cents, 0);
      const clearing = rows.reduce((sum, r) => sum + (r.clearing_cents || 0), 0);
      clear(body).append(
        h("p", { "data-testid": "open-total" }, rows.length
          ? `${rows.length} open, ${money(total)} due${clearing ? `, ${money(clearing)} clearing` : ""}` : "Nothing is waiting to be paid."),
        rows.length ? h("table", {},
          h("thead", {}, h("tr", {}, ["Patient", "For", "Due", "Status", "Link ends", ""].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows.map((r) => h("tr", { dataset: { request: r.id } },
            h("td", {}, r.contact_name || "—"), h("td", {}, r.description), h("td", {}, r.status === "processing" ? `${money(r.clearing_cents || 0, r.currency)} clearing` : money(r.balance_cents, r.currency)),
            h("td", { class: r.status === "processing" ? "clearing" : null }, WORDS[r.status] || r.status), h("td", {}, when(r.expires_at)),
            h("td", {}, h("button", { type: "button", class: "link", onclick: () => { dialog.close(); onOpen(r.conversation_id); } }, "Open thread")))))) : "");
    } catch (err) {
      clear(body).append(h("p", { class: "error", role: "alert" }, err.message));
    }
  }
  select.addEventListener("change", draw);
  dialog = openDialog({ title: "Open payments", content: h("div", {}, select, body), testId: "open-payments" });
  await draw();
  return dialog.done;
}
