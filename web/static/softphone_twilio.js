// Twilio's Voice JavaScript SDK behind the same small interface as the sandbox device. The SDK is
// loaded from the configured URL (twilio.voice_sdk_url) only when a real Twilio account is set up.
function loadSdk(url) {
  if (window.Twilio && window.Twilio.Device) return Promise.resolve(window.Twilio);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => resolve(window.Twilio);
    script.onerror = () => reject(new Error("could not load the Twilio Voice SDK"));
    document.head.append(script);
  });
}

export class TwilioDevice {
  constructor(sdkUrl, token, handlers) {
    this.handlers = handlers;
    this.calls = new Map();
    this.ready = loadSdk(sdkUrl).then((Twilio) => {
      const device = new Twilio.Device(token, { closeProtection: true });
      device.on("registered", () => handlers.registered?.());
      device.on("error", (error) => handlers.error?.({ code: error.code, message: error.message }));
      device.on("tokenWillExpire", () => handlers.tokenWillExpire?.());
      device.on("incoming", (call) => this.track(call, true));
      this.device = device;
      return device.register();
    }).catch((error) => handlers.error?.({ message: error.message }));
  }

  track(call, incoming) {
    const sid = call.parameters.CallSid;
    this.calls.set(sid, call);
    call.on("accept", () => this.handlers.connected?.(sid));
    call.on("cancel", () => { this.calls.delete(sid); this.handlers.canceled?.(sid); });
    call.on("disconnect", () => { this.calls.delete(sid); this.handlers.disconnected?.(sid); });
    call.on("reject", () => { this.calls.delete(sid); this.handlers.disconnected?.(sid); });
    if (incoming) {
      const params = Object.fromEntries(call.customParameters || new Map());
      this.handlers.incoming?.({ sid, from: call.parameters.From, params });
    }
    return sid;
  }

  updateToken(token) { if (this.device) this.device.updateToken(token); }
  accept(sid) { this.calls.get(sid)?.accept(); }
  reject(sid) { this.calls.get(sid)?.reject(); }
  hangup(sid) { this.calls.get(sid)?.disconnect(); }
  mute(sid, muted) { this.calls.get(sid)?.mute(muted); }
  digits(sid, digits) { this.calls.get(sid)?.sendDigits(digits); }

  async connect(params) {
    await this.ready;
    const call = await this.device.connect({ params });
    return new Promise((resolve) => {
      // The CallSid is known once Twilio has the call (the "ringing" event, or on accept).
      const done = () => resolve(this.track(call, false));
      call.on("ringing", done);
      call.on("accept", done);
    });
  }

  destroy() { if (this.device) this.device.destroy(); }
}
