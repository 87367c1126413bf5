// The softphone panel: take calls (on duty), the call pop while it rings, answer/decline, mute, hold,
// transfer, keypad, hang up, callers waiting in the queue, and calling a patient from a thread.
import { api } from "/static/api.js";
import { clear, h } from "/static/dom.js";
import { SandboxDevice } from "/static/softphone_sandbox.js";
import { TwilioDevice } from "/static/softphone_twilio.js";

// Only a real change touches the text, so a screen reader hears each new status once.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

export class Softphone {
  constructor(root, session, staff, { openConversation } = {}) {
    Object.assign(this, { root, session, staff, openConversation });
    this.onDuty = false;
    this.device = null;
    this.pops = new Map(); // call id -> { call, caller, sid }
    this.calls = new Map(); // call id -> call, for live calls at my locations (the queue)
    this.active = null; // { sid, callId, muted, transfer }
    this.recordingBusy = false; // a pause/resume request is on its way
    this.recordingError = "";
    this.status = "";
    this.buildHead();
    this.render();
  }

  // Built once: the panel redraws on every event, but a live region a screen reader announces must
  // stay the same element in the page and change only its text (a recreated one is not announced).
  buildHead() {
    this.dutyButton = h("button", { class: "duty", "data-testid": "duty", onclick: () => this.setDuty(!this.onDuty) });
    this.statusText = h("span", {});
    this.recordingNote = h("span", { class: "visually-hidden", "data-testid": "phone-live-recording" });
    this.live = h("span", { class: "phone-status", role: "status", "aria-live": "polite", "aria-atomic": "false", "data-testid": "phone-status" },
      this.statusText, this.recordingNote);
    this.cardsBox = null;
    clear(this.root).append(h("div", { class: "phone-head" }, this.dutyButton, this.live));
  }

  async start() {
    try {
      const [duty, calls] = await Promise.all([api("GET", "/api/v1/phone/duty"), api("GET", "/api/v1/calls/active")]);
      for (const call of calls) this.calls.set(call.id, call);
      this.onDuty = duty.on_duty;
      if (this.onDuty) await this.connectDevice();
    } catch (err) {
      this.status = err.message;
    }
    this.render();
  }

  async setDuty(on) {
    try {
      this.onDuty = (await api("PUT", "/api/v1/phone/duty", { on_duty: on })).on_duty;
      if (this.onDuty) await this.connectDevice();
      else this.disconnectDevice();
    } catch (err) {
      this.status = err.message;
    }
    this.render();
  }

  async connectDevice() {
    if (this.device) return;
    const token = await api("POST", "/api/v1/phone/token");
    const handlers = {
      registered: () => { this.status = "Ready for calls"; this.render(); },
      incoming: (call) => this.incoming(call),
      canceled: (sid) => this.dropIncoming(sid),
      connected: (sid) => this.connected(sid),
      disconnected: (sid) => this.disconnected(sid),
      tokenWillExpire: () => this.refreshToken(),
      error: (error) => { this.status = error.message || "softphone error"; this.render(); },
    };
    this.device = token.mode === "sandbox"
      ? new SandboxDevice(token.sandbox_url, token.token, handlers)
      : new TwilioDevice(token.sdk_url, token.token, handlers);
    this.scheduleRefresh(token.expires_at);
  }

  // A new token well before the old one runs out (Twilio also warns with tokenWillExpire).
  scheduleRefresh(expiresAt) {
    clearTimeout(this.refreshTimer);
    const left = new Date(expiresAt).getTime() - Date.now();
    this.refreshTimer = setTimeout(() => this.refreshToken(), Math.max(5000, left * 0.8));
  }

  async refreshToken() {
    if (!this.device) return;
    try {
      const token = await api("POST", "/api/v1/phone/token");
      this.device.updateToken(token.token);
      this.scheduleRefresh(token.expires_at);
    } catch (err) {
      this.status = `Could not renew the softphone: ${err.message}`;
      this.render();
    }
  }

  disconnectDevice() {
    clearTimeout(this.refreshTimer);
    if (this.device) this.device.destroy();
    this.device = null;
    this.pops.clear();
    this.status = ""; // the duty button says "Not taking calls"
  }

  onEvent(event) {
    if (event.type === "call.ringing") {
      const known = this.pops.get(event.call.id) || {};
      this.pops.set(event.call.id, { ...known, call: event.call, caller: event.caller });
      this.calls.set(event.call.id, event.call);
      this.render();
    } else if (event.type === "call.updated") {
      const call = event.call;
      if (call.stage === "ended") this.calls.delete(call.id); else this.calls.set(call.id, call);
      const pop = this.pops.get(call.id);
      if (pop && !(call.ringing_user_ids || []).includes(this.session.user_id)) this.pops.delete(call.id);
      else if (pop) pop.call = call;
      if (this.active && this.active.callId === call.id) this.active.call = call;
      this.render();
    }
  }

  async incoming({ sid, params }) {
    const callId = Number(params.call_id);
    const pop = this.pops.get(callId) || {};
    if (!pop.caller) {
      try { pop.caller = await api("GET", `/api/v1/calls/${callId}/caller`); } catch { /* shown without */ }
    }
    this.pops.set(callId, { ...pop, sid });
    this.render();
  }

  dropIncoming(sid) {
    for (const [id, pop] of this.pops) if (pop.sid === sid) this.pops.delete(id);
    this.render();
  }

  connected(sid) {
    if (this.active && this.active.sid === sid) this.active.live = true;
    this.render();
  }

  disconnected(sid) {
    this.dropIncoming(sid);
    if (this.active && this.active.sid === sid) {
      const call = this.calls.get(this.active.callId);
      // On hold the softphone leaves the call while the patient waits: keep the card to resume.
      this.active = call && call.stage === "hold" ? { ...this.active, sid: null, live: false } : null;
      // A warm transfer moved the patient into the conference: we join it to talk to the colleague.
      if (this.active && this.active.transfer) this.resumeIntoConference().then(() => this.render());
    }
    this.render();
  }

  answer(callId) {
    const pop = this.pops.get(callId);
    if (!pop || !pop.sid || !this.device) return;
    this.device.accept(pop.sid);
    this.active = { sid: pop.sid, callId, muted: false, call: pop.call, caller: pop.caller };
    this.pops.delete(callId);
    if (this.openConversation && pop.call) this.openConversation(pop.call.conversation_id);
    this.render();
  }

  decline(callId) {
    const pop = this.pops.get(callId);
    if (pop && pop.sid && this.device) this.device.reject(pop.sid);
    this.pops.delete(callId);
    this.render();
  }

  async call(conversationId, number) {
    if (!this.device) await this.setDuty(true);
    if (!this.device) return;
    const sid = await this.device.connect({ action: "dial", conversation_id: String(conversationId), To: number || "" });
    this.active = { sid, callId: null, muted: false, outbound: true, number };
    this.render();
  }

  async answerQueue(locationId) {
    if (!this.device) return;
    const sid = await this.device.connect({ action: "dequeue", location_id: String(locationId) });
    this.active = { sid, callId: null, muted: false };
    this.render();
  }

  mute() {
    if (!this.active || !this.active.sid) return;
    this.active.muted = !this.active.muted;
    this.device.mute(this.active.sid, this.active.muted);
    this.render();
  }

  currentCallId() {
    if (!this.active) return null;
    if (this.active.callId) return this.active.callId;
    const mine = [...this.calls.values()].find((c) => c.answered_by_id === this.session.user_id || c.placed_by_id === this.session.user_id);
    return mine ? mine.id : null;
  }

  async control(path, body) {
    const callId = this.currentCallId();
    if (!callId) return null;
    try {
      return (await api("POST", `/api/v1/calls/${callId}/${path}`, body)).result;
    } catch (err) {
      this.status = err.message;
      this.render();
      return null;
    }
  }

  async hold() { await this.control("hold"); }

  async resume() {
    const result = await this.control("resume");
    if (result === "join") {
      const callId = this.currentCallId();
      const sid = await this.device.connect({ action: "join", call_id: String(callId) });
      this.active = { ...this.active, sid, callId, live: false };
    }
    this.render();
  }

  async transfer(toUserId, mode) {
    const result = await this.control("transfer", { to_user_id: toUserId, mode });
    if (result !== "ringing") return;
    if (mode === "cold") {
      if (this.active && this.active.sid) this.device.hangup(this.active.sid);
      this.active = null;
    } else {
      this.active.transfer = toUserId;
      if (!this.active.sid) await this.resumeIntoConference();
    }
    this.render();
  }

  async resumeIntoConference() {
    const callId = this.currentCallId();
    const sid = await this.device.connect({ action: "join", call_id: String(callId) });
    this.active = { ...this.active, sid, callId };
  }

  async completeTransfer() {
    if (!this.active || !this.active.transfer) return;
    const result = await this.control("transfer/complete", { to_user_id: this.active.transfer });
    if (result === "transferred") {
      if (this.active.sid) this.device.hangup(this.active.sid);
      this.active = null;
    }
    this.render();
  }

  // Pause while the patient reads out a card number (PCI), then go on recording; the call's own
  // call.updated event (on every node) brings the new state to every tab.
  async setRecording(action) {
    const callId = this.currentCallId();
    if (!callId || this.recordingBusy) return;
    this.recordingBusy = true;
    this.recordingError = "";
    this.render();
    try {
      const { recording } = await api("POST", `/api/v1/calls/${callId}/recording`, { action });
      const call = this.calls.get(callId);
      if (call) this.calls.set(callId, { ...call, recording_paused: recording === "paused" });
    } catch (err) {
      this.recordingError = `Could not ${action} the recording: ${err.message}`;
    }
    this.recordingBusy = false;
    this.render();
  }

  recordingControls(call) {
    if (!call || !call.recording) return null;
    const paused = call.recording_paused;
    // Announced through the panel's one live region (recordingNote), not from this redrawn card.
    return h("div", { class: "recording", "data-testid": "recording" },
      h("span", { class: paused ? "rec-state paused" : "rec-state", "data-testid": "recording-state" },
        paused ? "Recording paused" : "\u25CF Recording"),
      h("button", {
        "data-testid": "recording-toggle", disabled: this.recordingBusy,
        onclick: () => this.setRecording(paused ? "resume" : "pause"),
      }, paused ? "Resume recording" : "Pause recording"),
      this.recordingError ? h("p", { class: "error", role: "alert" }, this.recordingError) : null);
  }

  hangup() {
    if (this.active && this.active.sid) this.device.hangup(this.active.sid);
    else this.control("hangup");
    this.active = null;
    this.render();
  }

  key(digit) {
    if (this.active && this.active.sid) this.device.digits(this.active.sid, digit);
  }

  // What the live region says about the call's recording ("" when no recorded call is in progress).
  recordingAnnouncement() {
    const mine = this.active ? this.calls.get(this.currentCallId()) : null;
    if (!mine || !mine.recording) return "";
    return mine.recording_paused ? "Recording paused" : "Recording";
  }

  render() {
    const dutyLabel = this.onDuty ? "Taking calls" : "Not taking calls";
    setText(this.dutyButton, dutyLabel);
    this.dutyButton.setAttribute("aria-pressed", this.onDuty ? "true" : "false");
    // The on-duty state is said once, by the button; the status only adds what it does not say.
    setText(this.statusText, this.status === dutyLabel ? "" : this.status);
    setText(this.recordingNote, this.recordingAnnouncement());
    const pops = [...this.pops.entries()].map(([id, pop]) => this.popCard(id, pop));
    const waiting = [...this.calls.values()].filter((c) => c.stage === "queued");
    const queue = waiting.length
      ? h("div", { class: "queue", "data-testid": "queue" },
        h("span", {}, `${waiting.length} waiting`),
        ...[...new Set(waiting.map((c) => c.location_id))].map((loc) =>
          h("button", { onclick: () => this.answerQueue(loc), disabled: !this.device }, "Answer next caller")))
      : null;
    const cards = [...pops, this.active ? this.activeCard() : null, queue].filter(Boolean);
    // Ringing calls, the call in progress and the queue drop down under the header, over the inbox.
    if (this.cardsBox) this.cardsBox.remove();
    this.cardsBox = cards.length ? h("div", { class: "phone-cards" }, cards) : null;
    if (this.cardsBox) this.root.append(this.cardsBox);
  }

  popCard(callId, pop) {
    const caller = pop.caller;
    const name = caller ? caller.name : (pop.call ? pop.call.contact_name : "Incoming call");
    const household = caller && caller.household.length
      ? h("p", { class: "household" }, "Shared number: ", caller.household.map((m) => m.name).join(", ")) : null;
    const threads = caller ? caller.conversations.map((c) =>
      h("button", { class: "link", onclick: () => this.openConversation && this.openConversation(c.id) }, `Open thread at ${c.location}`)) : [];
    const extras = [];
    if (caller && caller.next_appointment) extras.push(h("p", {}, `Next visit: ${caller.next_appointment.label || ""}`));
    if (caller && caller.balance) {
      // A bank debit still clearing is neither owed nor paid yet: said apart from the open balance.
      const b = caller.balance;
      extras.push(h("p", { "data-testid": "pop-balance" }, `Balance: ${b.label || ""}`,
        b.clearing_label ? h("span", { class: "muted", "data-testid": "pop-clearing" }, ` · ${b.clearing_label}`) : null));
    }
    return h("section", { class: "call-pop", role: "alertdialog", "aria-label": `Incoming call from ${name}`, dataset: { call: callId }, "data-testid": "call-pop" },
      h("p", { class: "ringing" }, "Incoming call"),
      h("h3", {}, name, caller && caller.unknown ? h("span", { class: "tag" }, " new caller") : null),
      household, ...extras, ...threads,
      h("div", { class: "actions" },
        h("button", { class: "answer", "data-testid": "answer", disabled: !pop.sid, onclick: () => this.answer(callId) }, "Answer"),
        h("button", { class: "decline", disabled: !pop.sid, onclick: () => this.decline(callId) }, "Decline")));
  }

  activeCard() {
    const a = this.active;
    const call = a.callId ? this.calls.get(a.callId) : null;
    const mine = this.calls.get(this.currentCallId()) || null; // also a dequeued or dialled call
    const onHold = call && call.stage === "hold";
    const colleagues = [...this.staff.values()].filter((s) => s.id !== this.session.user_id);
    const target = h("select", { "aria-label": "Transfer to" }, colleagues.map((s) => h("option", { value: s.id }, s.name)));
    const keypad = h("div", { class: "keypad", role: "group", "aria-label": "Keypad" },
      KEYS.map((k) => h("button", { onclick: () => this.key(k), "aria-label": `Key ${k}` }, k)));
    return h("section", { class: "active-call", "aria-label": "Call in progress", "data-testid": "active-call" },
      h("h3", {}, call ? call.contact_name : (a.number || "Call")),
      h("p", { class: "call-state" }, onHold ? "On hold" : (a.transfer ? "Talking to your colleague (patient on hold)" : "Connected")),
      this.recordingControls(mine),
      h("div", { class: "actions" },
        h("button", { onclick: () => this.mute(), "aria-pressed": a.muted ? "true" : "false" }, a.muted ? "Unmute" : "Mute"),
        onHold ? h("button", { onclick: () => this.resume() }, "Resume") : h("button", { onclick: () => this.hold() }, "Hold"),
        h("button", { class: "hangup", onclick: () => this.hangup() }, "Hang up")),
      h("div", { class: "transfer" }, target,
        h("button", { onclick: () => this.transfer(Number(target.value), "cold") }, "Transfer"),
        h("button", { onclick: () => this.transfer(Number(target.value), "warm") }, "Talk first"),
        a.transfer ? h("button", { onclick: () => this.completeTransfer() }, "Complete transfer") : null),
      keypad);
  }
}
