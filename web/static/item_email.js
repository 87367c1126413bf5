// An e-mail in the timeline: subject, the new text (quoted history folded), the sanitized HTML on
// request, attachments by name — all drawn by email_view.js.
import { renderEmail } from "/static/email_view.js";

export function emailBody(item) {
  return renderEmail(item);
}
