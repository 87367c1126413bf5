// The carrier sandbox's softphone: the same token and the same calls as Twilio's Voice SDK, over the
// sandbox's WebSocket, so the demo and the tests ring real browsers without a Twilio account.
export class SandboxDevice {
  constructor(url, token, handlers) {
    this.url = url;
    this.token = token;
    this.handlers = handlers; // { incoming, canceled, connected, disconnected, error, registered }
    this.nextRef = 1;
    this.outgoing = new Map();
    this.closed = false;
    this.open();
  }

  open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "register", token: this.token }));
    ws.onmessage = (msg) => this.receive(JSON.parse(msg.data));
    ws.onclose = () => {
      if (this.closed) return;
      this.handlers.error?.({ message: "softphone disconnected; reconnecting" });
      setTimeout(() => { if (!this.closed) this.open(); }, 1000);
    };
  }

  receive(data) {
    const h = this.handlers;
    switch (data.type) {
      case "registered": h.registered?.(data.identity); break;
      case "incoming": h.incoming?.({ sid: data.call_sid, from: data.from, params: data.params || {} }); break;
      case "canceled": h.canceled?.(data.call_sid); break;
      case "connected": h.connected?.(data.call_sid); break;
      case "disconnected": h.disconnected?.(data.call_sid); break;
      case "outgoing": {
        const resolve = this.outgoing.get(data.ref);
        this.outgoing.delete(data.ref);
        if (resolve) resolve(data.call_sid);
        break;
      }
      case "error": h.error?.(data); break;
      default: break;
    }
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  updateToken(token) { this.token = token; this.send({ type: "update_token", token }); }
  accept(sid) { this.send({ type: "accept", call_sid: sid }); }
  reject(sid) { this.send({ type: "reject", call_sid: sid }); }
  hangup(sid) { this.send({ type: "hangup", call_sid: sid }); }
  mute(sid, muted) { this.send({ type: "mute", call_sid: sid, muted }); }
  digits(sid, digits) { this.send({ type: "digits", call_sid: sid, digits }); }

  // Place a call through the TwiML App; resolves with the new call's sid.
  connect(params) {
    const ref = String(this.nextRef++);
    this.send({ type: "connect", ref, params });
    return new Promise((resolve) => this.outgoing.set(ref, resolve));
  }

  destroy() { this.closed = true; if (this.ws) this.ws.close(); }
}
