// One live socket: subscribes with the last event id it saw, so a reconnect misses nothing.
export class LiveSocket {
  constructor({ onEvent, onStatus, onResync, onEnded }) {
    Object.assign(this, { onEvent, onStatus, onResync, onEnded });
    this.lastEventId = null;
    this.nextId = 1;
    this.retry = 500;
    this.stopped = false;
    this.timer = null;
    this.pending = new Map();
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    const resuming = this.lastEventId !== null;
    ws.onopen = () => {
      this.retry = 500;
      ws.send(JSON.stringify({ id: this.nextId++, type: "subscribe", last_event_id: this.lastEventId }));
    };
    ws.onmessage = (msg) => {
      const parsed = JSON.parse(msg.data);
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) this.handle(frame, resuming);
    };
    ws.onclose = (ev) => {
      if (this.stopped || ws !== this.ws) return;
      if (ev.code === 4001) { this.onEnded(); return; }
      this.onStatus("reconnecting…");
      this.timer = setTimeout(() => this.start(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  // Frames that queued together arrive as one JSON array; each is handled alone, in order.
  handle(data, resuming) {
      if (data.type === "event") {
        this.lastEventId = data.id;
        this.onEvent(data.event);
      } else if (data.type === "resync") {
        this.lastEventId = data.last_event_id;
        this.onResync();
      } else if (data.type === "result" && this.pending.has(data.id)) {
        const waiter = this.pending.get(data.id);
        this.pending.delete(data.id);
        if (data.success) waiter.resolve(data.result); else waiter.reject(Object.assign(new Error(data.error.message), data.error));
      } else if (data.type === "result" && data.success && "replayed" in (data.result || {})) {
        if (this.lastEventId === null) this.lastEventId = data.result.last_event_id;
        this.onStatus(resuming ? `back, ${data.result.replayed} missed updates applied` : "live");
        if (this.onLive) this.onLive();
      }
  }

  // Send a command; resolves with its result (or rejects with the error) when the reply arrives.
  command(type, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error("offline"));
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, type, ...fields }));
    return new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }); });
  }

  // Skip the back-off wait (the "reconnect now" button, or the browser coming back online).
  reconnectNow() {
    clearTimeout(this.timer);
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.start();
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }
}
