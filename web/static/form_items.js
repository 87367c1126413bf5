// Intake forms in the thread: the live form card (sent, opened, in progress, completed, expired), the
// completed form's answers and uploads (fetched on demand: each view is audited), and the dialog staff
// send a form with.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { openDialog } from "/static/dialog.js";

const WORDS = {
  sent: "sent to the patient", opened: "opened by the patient", in_progress: "being filled in",
  completed: "completed", expired: "link expired",
};
const RECORD_WORDS = { first_name: "first name", last_name: "last name", date_of_birth: "date of birth", emails: "e-mail", is_unknown: "identified",
  address_line1: "address", address_line2: "address", address_city: "city", address_region: "state", address_postal_code: "postal code",
  insurance_carrier: "insurance carrier", insurance_member_id: "member ID", insurance_group_number: "group number", insurance_card_upload_id: "insurance card" };

export function formBody(item, { onError }) {
  const m = item.meta || {};
  const answers = h("div", { class: "form-answers", "data-testid": "form-answers" });
  const updates = [...new Set((m.contact_updates || []).map((f) => RECORD_WORDS[f] || f))];
  const show = item.status === "completed"
    ? h("button", { type: "button", class: "link", onclick: () => showAnswers(m.form_request_id, answers).catch(onError) }, "Show answers")
    : null;
  return h("div", { class: "body form-card", "data-testid": "form-card", dataset: { status: item.status || "" } },
    h("div", { class: "form-name" }, item.body, m.version ? ` (version ${m.version})` : ""),
    h("div", { class: `form-status form-${item.status}`, "data-testid": "form-status" }, WORDS[item.status] || item.status),
    updates.length ? h("div", { class: "hint" }, `Updated the record: ${updates.join(", ")}`) : null,
    show,
    item.status === "completed"
      ? h("a", { class: "link", href: `/api/v1/form-requests/${m.form_request_id}/print`, target: "_blank", rel: "noopener", "data-testid": "form-print" }, "Printable view")
      : null,
    item.status === "completed" && m.pdf
      ? h("a", { class: "link", href: `/api/v1/form-requests/${m.form_request_id}/pdf`, target: "_blank", rel: "noopener", "data-testid": "form-pdf" }, "PDF")
      : null,
    answers);
}

function answerText(field, value) {
  if (value === undefined || value === null || value === "") return "—";
  if (field.kind === "checkbox") return value ? "Yes" : "No";
  return String(value);
}

/** The questions of the version answered, with the answers and authorized links to the uploads. */
async function showAnswers(requestId, el) {
  const r = await api("GET", `/api/v1/form-requests/${requestId}`);
  const uploads = new Map(r.uploads.map((u) => [u.field, u]));
  const rows = [];
  for (const section of r.definition.sections) {
    rows.push(h("h4", {}, section.title));
    const dl = h("dl", { class: "record" });
    for (const f of section.fields) {
      const upload = uploads.get(f.key);
      let value;
      if (upload && f.kind === "signature") value = h("img", { src: upload.url, alt: `Signature: ${f.label}`, class: "form-signature" });
      else if (upload) value = h("a", { href: upload.url, target: "_blank", rel: "noopener" }, upload.content_type.startsWith("image/") ? "View photo" : "Open file");
      else value = answerText(f, r.answers[f.key]);
      dl.append(h("dt", {}, f.label), h("dd", { dataset: { field: f.key } }, value));
    }
    rows.push(dl);
  }
  clear(el).append(...rows);
}

/** The "Send a form" dialog for a thread; resolves once the form is sent (or the dialog closed). */
export async function sendForm(conversationId) {
  const templates = (await api("GET", "/api/v1/form-templates")).filter((t) => t.published_version_id && !t.archived);
  const error = h("p", { class: "error", role: "alert" });
  const choice = h("select", { name: "template", required: true },
    templates.map((t) => h("option", { value: String(t.id) }, t.name)));
  const channel = h("select", { name: "channel" }, h("option", { value: "sms" }, "Text message"), h("option", { value: "email" }, "E-mail"));
  const submit = h("button", { type: "submit", disabled: !templates.length }, "Send form");
  let dialog = null;
  const form = h("form", { class: "form-request", onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      await api("POST", `/api/v1/conversations/${conversationId}/form-requests`, { template_id: Number(choice.value), channel: channel.value });
      dialog.close();
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  } },
  templates.length
    ? h("label", {}, "Form ", choice)
    : h("p", { class: "hint" }, "No form is published yet: an administrator publishes one first."),
  h("label", {}, "Send by ", channel),
  h("p", { class: "hint" }, "The patient gets a private link to fill it in on their phone."),
  error,
  h("div", { class: "actions" }, submit));
  dialog = openDialog({ title: "Send a form", content: form, testId: "form-dialog" });
  (templates.length ? choice : submit).focus();
  return dialog.done;
}
