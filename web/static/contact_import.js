// Importing patients from a CSV file (admins): check it first, read the rejected rows, then import.
// The server stores all accepted rows in one transaction or none; rejected rows are never stored.
import { apiRaw } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function reportEl(report) {
  const rejected = report.rejected.length
    ? h("table", { class: "rejected", "data-testid": "rejected-rows" },
      h("caption", {}, `Rejected rows (${report.rejected.length}): not imported`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Line"), h("th", { scope: "col" }, "Why"))),
      h("tbody", {}, report.rejected.map((r) => h("tr", { dataset: { line: r.line } },
        h("td", {}, String(r.line)), h("td", {}, r.reasons.join("; "))))))
    : h("p", {}, "No rows rejected.");
  const columns = Object.entries(report.columns).map(([ours, theirs]) => `${ours} ← “${theirs}”`).join(", ");
  return h("div", { class: "import-report", "data-testid": "import-report" },
    h("p", { role: "status" }, report.dry_run
      ? `${plural(report.rows, "row")} read: ${plural(report.accepted, "patient")} can be imported, ${report.rejected.length} rejected.`
      : `Imported ${plural(report.created, "patient")}. ${report.rejected.length ? `${plural(report.rejected.length, "row")} rejected and not imported: fix them in the file and import just those rows again.` : ""}`),
    report.sharing_phone ? h("p", {}, `${plural(report.sharing_phone, "patient")} share a phone number with another patient (they form a household).`) : null,
    h("p", { class: "muted" }, `Columns: ${columns || "none recognised"}${report.ignored_columns.length ? `; ignored: ${report.ignored_columns.join(", ")}` : ""}.`),
    rejected);
}

/** The import dialog. */
export function openImport() {
  const file = h("input", { type: "file", name: "csv", accept: ".csv,text/csv,text/plain" });
  const check = h("button", { type: "submit" }, "Check the file");
  const result = h("div", { class: "import-result", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert" });
  const post = (dryRun) => apiRaw("POST", `/api/v1/contacts/import?dry_run=${dryRun}`, file.files[0], "text/csv");
  const form = h("form", { class: "import", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    clear(result);
    if (!file.files.length) { error.textContent = "Choose a CSV file first."; return; }
    try {
      const report = await post(true);
      result.append(reportEl(report));
      if (report.accepted) {
        const go = h("button", { type: "button", class: "primary", onclick: async () => {
          go.disabled = true;
          try {
            clear(result).append(reportEl(await post(false)));
          } catch (err) {
            go.disabled = false;
            error.textContent = `${err.message} Nothing was imported.`;
          }
        } }, `Import ${plural(report.accepted, "patient")}`);
        result.append(go);
      }
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h("p", {}, "Columns are recognised by their headers (first name, last name, phone, second phone, e-mail, date of birth). ",
    "Each row is checked first; rows with a bad phone number or already on file are listed and left out."),
  h("label", {}, "CSV file ", file), check, error, result);
  file.addEventListener("change", () => { clear(result); error.textContent = ""; });
  openDialog({ title: "Import patients from CSV", className: "import-dialog", testId: "import-dialog", content: form });
  file.focus();
}
