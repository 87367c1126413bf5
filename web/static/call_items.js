// Calls and voicemails in the timeline: how the call went, who answered, how long; the voicemail's
// audio (through the authorized media URL) and its transcription as text.
import { h } from "/static/dom.js";

const CALL_WORDS = {
  ringing: "ringing", menu: "in the phone menu", queued: "waiting in the queue", "in-progress": "in progress",
  "on-hold": "on hold", voicemail: "leaving a voicemail", answered: "answered", missed: "missed",
  abandoned: "caller hung up while waiting", "no-answer": "no answer", busy: "busy", failed: "failed",
  canceled: "canceled", completed: "ended",
};

function duration(seconds) {
  if (!seconds && seconds !== 0) return "";
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

export function callBody(item, staff) {
  const meta = item.meta || {};
  const who = meta.answered_by_id ? staff.get(meta.answered_by_id) : null;
  const placedBy = meta.placed_by_id ? staff.get(meta.placed_by_id) : null;
  const parts = [item.direction === "out" ? "Outgoing call" : "Incoming call", CALL_WORDS[item.status] || item.status || ""];
  if (item.direction === "out" && placedBy) parts.push(`by ${placedBy.name}`);
  else if (who && item.status !== "ringing") parts.push(`by ${who.name}`);
  if (meta.duration) parts.push(duration(meta.duration));
  if (meta.recorded) parts.push("recorded");
  return h("div", { class: "body call", "data-testid": "call-summary" }, parts.filter(Boolean).join(" · "),
    audioFor(meta));
}

function audioFor(meta) {
  const audio = (meta.media || []).find((m) => (m.content_type || "").startsWith("audio/"));
  if (!audio) return null;
  if (audio.state !== "stored") return h("div", { class: "media-missing" }, audio.state === "pending" ? "Recording loading…" : `Recording not kept: ${audio.error || audio.state}`);
  return h("audio", { controls: true, preload: "none", src: `/api/v1/media/${audio.id}`, "aria-label": "Play the recording" });
}

export function voicemailBody(item) {
  const meta = item.meta || {};
  const words = meta.transcription === "pending" ? "Transcribing…"
    : meta.transcription === "failed" ? "No transcription: listen to the message." : item.body;
  return h("div", { class: "body voicemail" },
    h("div", { class: "item-status" }, `Voicemail${meta.duration ? ` · ${duration(meta.duration)}` : ""}`),
    audioFor(meta),
    h("p", { class: "transcription", "data-testid": "transcription" }, words || ""));
}
