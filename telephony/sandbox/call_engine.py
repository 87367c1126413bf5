"""Twilio's side of every call leg: fetch TwiML (signed), validate it, and act it out in simulated time.

How a leg starts:
- a patient's phone calls a practice number (`place_inbound`): the leg is `inbound`, `ringing`, and
  webhook_base + voice_path is POSTed with the standard voice params (AccountSid, ApiVersion, CallSid,
  CallStatus, Called, Caller, Direction, From, To; ParentCallSid on child legs; ApplicationSid on
  softphone calls);
- REST `Calls.json` (`place_outbound`, direction `outbound-api`): the far end rings first, and its Url
  or Twiml runs once it answers;
- a softphone's `connect` (`place_from_client`): From client:<identity>, direction `inbound`, the
  TwiML App's Voice URL is POSTed with ApplicationSid and the softphone's custom params.

Every document is validated by `twiml.parse_twiml`; a non-2xx answer, no answer, a non-XML answer or an
invalid document is logged in `VoiceStore.twiml_errors` and the caller hears "We are sorry, an
application error has occurred. Goodbye." before the call ends. Relative URLs resolve against the URL
of the document they appear in. Status callbacks of one leg are posted in order.

Simulated durations (each multiplied by `voice_time_scale`): Say 0.4 s a word (at least 1 s), Play 2 s,
Pause its length (default 1), Gather/Record/Dial their timeouts, a recording's length its real
elapsed time over the scale. Verbs: Say, Play, Pause, Gather (dtmf and speech; Digits, or SpeechResult
with Confidence 0.9; FinishedOnKey; no input → next verb unless actionOnEmptyResult), Record (see
`record`), Redirect, Hangup, Reject (busy → busy, rejected → no-answer), Leave, and Dial/Enqueue in
`dialing` and `rooms`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from telephony.sandbox.flow import ApplicationError, Fetch, Interrupted, Result, as_future
from telephony.sandbox.signing import WebhookSender
from telephony.sandbox.store import API_VERSION, E164, SandboxStore, now, rfc2822
from telephony.sandbox.twiml import PROGRESS_EVENTS, Node, parse_twiml
from telephony.sandbox.voice_store import Call, VoiceStore

log = logging.getLogger(__name__)

T = TypeVar("T")
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
SAY_SECONDS_PER_WORD = 0.4
PLAY_SECONDS = 2.0
LOOP_FOREVER = 1000  # loop="0": until something else ends it
Handler = Callable[["CallEngine", Call, Node, str | None], Awaitable[Result]]


class DeviceHub(Protocol):
    """The softphones (see `devices`): ring an identity's devices and tell them when a leg ends."""

    def ring(self, call: Call, identity: str) -> bool:
        """Offer the call to every device of the identity; False when none can take it."""

    def call_answered(self, call: Call) -> None:
        """The leg went live: tell the device on it."""

    def call_ended(self, call: Call) -> None:
        """The leg ended: tell the devices that were offered it or are on it."""


class CallEngine:
    """Runs call legs; one per sandbox app, on the app's event loop."""

    def __init__(self, store: SandboxStore, voice: VoiceStore, sender: WebhookSender) -> None:
        self.store = store
        self.voice = voice
        self.sender = sender
        self.devices: DeviceHub | None = None
        self.public_base: str | None = store.config.public_url  # else learned from the first request
        self.handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._callback_locks: dict[str, asyncio.Lock] = {}
        self._closing = False

    # ----- background work -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run in the background, kept until done (and cancelled at shutdown; none start after)."""
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox call task failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until every leg and callback in flight is done (tests; live calls keep it waiting)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop everything in flight (at shutdown)."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ----- simulated time and interruption -----------------------------------------------------------

    def seconds(self, simulated: float) -> float:
        """Real seconds for a simulated duration."""
        return simulated * self.voice.scale

    def simulated_since(self, started: float) -> float:
        """Simulated seconds elapsed since a monotonic instant."""
        return (time.monotonic() - started) / self.voice.scale

    async def wait(self, call: Call, aw: Awaitable[T], simulated: float | None) -> T | None:
        """`aw`'s result, or None after `simulated` seconds; Interrupted if the leg is interrupted first."""
        if call.interrupt.is_set():
            _close(aw)
            raise Interrupted(call.interruption or "hangup")
        task, stop = as_future(aw), as_future(call.interrupt.wait())
        timeout = None if simulated is None else self.seconds(max(simulated, 0.0))
        try:
            done, _ = await asyncio.wait({task, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (task, stop):
                if not future.done():
                    future.cancel()
        if stop in done:
            raise Interrupted(call.interruption or "hangup")
        return task.result() if task in done else None

    async def pause(self, call: Call, simulated: float) -> None:
        """Let simulated time pass on a leg (interruptible)."""
        await self.wait(call, asyncio.Event().wait(), simulated)

    def interrupt(self, call: Call, reason: str) -> None:
        """Stop whatever the leg is doing: "hangup" ends it, "redirect" runs `call.redirect_to`."""
        if call.interruption != "hangup":
            call.interruption = reason
        call.interrupt.set()

    # ----- starting legs -----------------------------------------------------------------------------

    def place_inbound(self, patient: str, practice: str) -> Call:
        """A patient's phone calls a practice number: ring, then the number's voice webhook."""
        config = self.store.config
        call = self.voice.new_call(
            from_=patient,
            to=practice,
            direction="inbound",
            status="ringing",
            number_status_callback=config.voice_status_url,
        )
        self.spawn(self.run(call, Fetch(config.voice_url)))
        return call

    def place_outbound(self, call: Call, first: Fetch, ring_seconds: float) -> None:
        """A REST-created call: ring the far end, then run its TwiML once answered."""
        self.spawn(self._outbound(call, first, ring_seconds))

    async def _outbound(self, call: Call, first: Fetch, ring_seconds: float) -> None:
        outcome = await self.ring(call, ring_seconds)
        if outcome != "answered":
            self.end(call, outcome)
            return
        await self.run(call, first)

    def place_from_client(self, identity: str, params: dict[str, str]) -> Call:
        """A softphone's outgoing call through the TwiML App, as the Voice SDK places it."""
        config = self.store.config
        call = self.voice.new_call(
            from_=f"client:{identity}",
            to=params.get("To", ""),
            direction="inbound",
            status="ringing",
            application_sid=config.twiml_app_sid,
        )
        extra = tuple((k, v) for k, v in params.items() if k != "To")
        self.spawn(self.run(call, Fetch(config.app_voice_url, "POST", extra)))
        return call

    async def ring(self, call: Call, ring_seconds: float) -> str:
        """Ring a leg's far end: "answered", "busy", "no-answer", "failed" or "canceled"."""
        self.progress(call, "initiated")
        self.set_status(call, "ringing")
        call.answer = asyncio.get_running_loop().create_future()
        if call.to.startswith("client:"):
            if self.devices is None or not self.devices.ring(call, call.to.removeprefix("client:")):
                return "no-answer"
        elif not E164.match(call.to):
            return "failed"
        try:
            outcome = await self.wait(call, asyncio.shield(call.answer), ring_seconds)
        except Interrupted:
            return "canceled"
        finally:
            if not call.answer.done():
                call.answer.cancel()
        if outcome == "answered":
            self.set_status(call, "in-progress")
        return outcome or "no-answer"

    def respond(self, call: Call, outcome: str) -> bool:
        """The far end of a ringing leg answers ("answered") or declines ("busy"); False if not ringing."""
        if call.answer is None or call.answer.done():
            return False
        call.answer.set_result(outcome)
        return True

    def hang_up(self, call: Call) -> bool:
        """Someone on the leg hangs up (or REST ends it): a ringing leg is canceled, a live one stopped."""
        if not call.live:
            return False
        if not self.respond(call, "canceled"):
            self.interrupt(call, "hangup")
        return True

    def redirect(self, call: Call, target: Fetch) -> None:
        """REST update with Url or Twiml: leave the current verb and run the new TwiML."""
        call.redirect_to = (target.url, target.method, target.twiml)
        self.interrupt(call, "redirect")

    def take_redirect(self, call: Call) -> Fetch | None:
        """The pending REST redirect of a leg, clearing the interruption so the leg runs again."""
        if call.interruption != "redirect" or call.redirect_to is None:
            return None
        url, method, twiml = call.redirect_to
        call.redirect_to, call.interruption = None, None
        call.interrupt.clear()
        return Fetch(url, method, twiml=twiml)

    def deliver(self, call: Call, kind: str, value: str) -> bool:
        """Digits ("dtmf") or words ("speech") from the person on a leg; False if nothing listens."""
        if not call.live or call.listening is None or kind not in call.listening[1]:
            return False
        call.inputs.put_nowait((kind, value))
        self.voice.event(call, kind, value=value)
        return True

    # ----- status ------------------------------------------------------------------------------------

    def set_status(self, call: Call, status: str) -> None:
        """Move a leg on and tell its status callback the events it asked for."""
        before = call.status
        self.voice.set_status(call, status)
        if status == "ringing" and before != "ringing":
            self.progress(call, "ringing")
        elif status == "in-progress" and before != "in-progress":
            self.progress(call, "answered")
            if self.devices is not None:
                self.devices.call_answered(call)

    def answer(self, call: Call) -> None:
        """Twilio picks up a leg it was ringing (inbound: when the TwiML starts, or on bridge)."""
        if call.status in ("queued", "ringing"):
            self.set_status(call, "in-progress")

    def end(self, call: Call, status: str = "completed") -> None:
        """End a leg: final status, its completed callback, the number's callback, the softphones."""
        if not call.live:
            return
        self.set_status(call, status)
        self.progress(call, "completed")
        if call.number_status_callback:
            params = [*self.call_params(call), ("CallDuration", str(call.duration(self.voice.scale)))]
            params += [("CallbackSource", "call-progress-events"), ("Timestamp", rfc2822(now()) or "")]
            self.callback(call.sid, "POST", call.number_status_callback, params)
        if self.devices is not None:
            self.devices.call_ended(call)

    def progress(self, call: Call, event: str) -> None:
        """One call-progress event to the leg's StatusCallback, if it asked for it (default: completed)."""
        wanted = call.status_callback_events or frozenset(("completed",))
        if not call.status_callback or event not in wanted or event not in PROGRESS_EVENTS:
            return
        status = "initiated" if event == "initiated" else call.status
        params = [
            *self.call_params(call, status),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", str(call.callback_seq)),
            ("Timestamp", rfc2822(now()) or ""),
        ]
        if event == "completed":
            params.append(("CallDuration", str(call.duration(self.voice.scale))))
        call.callback_seq += 1
        self.callback(call.sid, call.status_callback_method, call.status_callback, params)

    def callback(self, key: str, method: str, url: str, params: list[tuple[str, str]]) -> None:
        """Post a callback in the background after earlier ones of the same leg or conference (`key`)."""
        lock = self._callback_locks.setdefault(key, asyncio.Lock())

        async def post() -> None:
            async with lock:
                result = await self.sender.request(method, url, params)
                if not result.ok:
                    log.info("voice callback %s answered %s", urlsplit(url).path, result.status)

        self.spawn(post())

    def call_params(self, call: Call, status: str | None = None) -> list[tuple[str, str]]:
        """Twilio's standard voice request parameters for a leg."""
        params = [
            ("AccountSid", call.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", call.sid),
            ("CallStatus", status or call.status),
            ("Called", call.to),
            ("Caller", call.from_),
            ("Direction", call.direction),
            ("From", call.from_),
            ("To", call.to),
        ]
        if call.parent_call_sid:
            params.append(("ParentCallSid", call.parent_call_sid))
        if call.application_sid:
            params.append(("ApplicationSid", call.application_sid))
        if call.caller_name:
            params.append(("CallerName", call.caller_name))
        return params

    # ----- running TwiML -----------------------------------------------------------------------------

    async def run(self, call: Call, first: Fetch) -> None:
        """Run TwiML on a leg until it ends, following REST redirects; then hang the leg up."""
        try:
            await self.follow(call, first)
        finally:
            self.end(call, "completed")

    async def follow(self, call: Call, first: Fetch | None) -> None:
        """Fetch and execute documents one after another (redirects included) while the leg lives."""
        step = first
        while step is not None and call.live:
            try:
                step = await self.step(call, step)
            except Interrupted:
                step = self.take_redirect(call) if call.live else None
            except ApplicationError:
                await self.application_error(call)
                step = None

    async def step(self, call: Call, step: Fetch) -> Fetch | None:
        """One document: fetch (or parse inline) and execute it; the next fetch, or None at the end."""
        verbs, url = await self.load(call, step)
        result = await self.execute(call, verbs, url)
        return result if isinstance(result, Fetch) else None

    async def execute(self, call: Call, verbs: list[Node], url: str | None) -> Result:
        """Run a document's verbs in order: None when they ran out, HANGUP, or the Fetch that replaces it."""
        for node in verbs:
            if node.tag != "Reject" and not (node.tag == "Dial" and node.flag("answerOnBridge")):
                self.answer(call)
            self.voice.event(call, "verb", verb=node.tag)
            result = await self.handlers[node.tag](self, call, node, url)
            if result is not None:
                return result
        return None

    async def load(
        self, call: Call, step: Fetch, allowed: frozenset[str] | None = None
    ) -> tuple[list[Node], str | None]:
        """A document's verbs and its URL; ApplicationError (logged) if Twilio would refuse it."""
        entry: dict[str, Any] = {
            "call_sid": call.sid,
            "url": step.url,
            "method": step.method,
            "status": None,
            "document": step.twiml,
            "violations": [],
            "error": None,
            "at": now().isoformat(),
        }
        text = step.twiml
        if text is None:
            if step.url is None or not _absolute(step.url):
                entry["error"] = f"11100 invalid URL format: {step.url!r}"
                self.voice.log_twiml(entry)
                raise ApplicationError(entry["error"])
            params = [*self.call_params(call), *step.params]
            result = await self.wait(
                call, self.sender.request(step.method, step.url, params, retries=0), None
            )
            assert result is not None  # wait() without a time limit always has a result
            entry.update(status=result.status, document=result.body)
            if not result.ok:
                entry["error"] = f"11200 HTTP retrieval failure: {result.status or 'no answer'}"
            elif "xml" not in result.content_type:
                entry["error"] = f"12300 invalid content type {result.content_type!r}"
            text = result.body
        if entry["error"] is None:
            document = parse_twiml(text or "", allowed)
            entry["violations"] = document.violations
            if not document.valid:
                entry["error"] = document.violations[0]
        self.voice.log_twiml(entry)
        if entry["error"] is not None:
            raise ApplicationError(entry["error"])
        return document.verbs, step.url

    async def tell(self, call: Call, target: Fetch, status: str = "completed") -> None:
        """Request an action URL after the leg hung up: Twilio asks, and ignores the TwiML answered."""
        if target.url is None:
            return
        params = [*self.call_params(call, status), *target.params]
        result = await self.sender.request(target.method, target.url, params, retries=0)
        self.voice.log_twiml(
            {
                "call_sid": call.sid,
                "url": target.url,
                "method": target.method,
                "status": result.status,
                "document": result.body,
                "violations": [],
                "error": None,
                "ignored": True,  # the call had ended: the answer is not executed
                "at": now().isoformat(),
            }
        )

    async def application_error(self, call: Call) -> None:
        """What Twilio does with a document it cannot run: say so, then hang up."""
        if not call.live:
            return
        self.answer(call)
        self.voice.hear(call, "Say", text=APPLICATION_ERROR)
        try:
            await self.pause(call, len(APPLICATION_ERROR.split()) * SAY_SECONDS_PER_WORD)
        except Interrupted:
            pass
        self.end(call, "completed")

    def resolve(self, base: str | None, target: str) -> str:
        """An action URL made absolute against the document's URL; ApplicationError if it cannot be."""
        target = target.strip()
        resolved = urljoin(base, target) if base else target
        if not _absolute(resolved):
            self.voice.log_twiml({"url": target, "error": f"11100 invalid URL format: {target!r}"})
            raise ApplicationError(target)
        return resolved

    def recording_url(self, account_sid: str, recording_sid: str) -> str:
        """Where the server fetches a recording (the API's URL on the sandbox, without extension)."""
        base = (self.public_base or "http://127.0.0.1").rstrip("/")
        return f"{base}/{API_VERSION}/Accounts/{account_sid}/Recordings/{recording_sid}"

    # ----- playing to the caller -----------------------------------------------------------------------

    async def play(self, call: Call, node: Node, base: str | None, *, listen: bool = False) -> Any:
        """Say, Play or Pause to the leg's caller; with `listen`, stop at (and return) the first input."""
        loops = node.number("loop", 1) if node.tag != "Pause" else 1
        for _ in range(loops or LOOP_FOREVER):
            if node.tag == "Say":
                self.voice.hear(call, "Say", text=" ".join(node.text.split()))
                seconds = max(1.0, len(node.text.split()) * SAY_SECONDS_PER_WORD)
            elif node.tag == "Play":
                if node.get("digits"):
                    self.voice.hear(call, "Play", digits=node.get("digits"))
                else:
                    url = node.text.strip()
                    self.voice.hear(call, "Play", url=urljoin(base, url) if base else url)
                seconds = PLAY_SECONDS
            else:
                seconds = float(node.number("length", 1))
                self.voice.hear(call, "Pause", length=seconds)
            if listen:
                got = await self.wait(call, call.inputs.get(), seconds)
                if got is not None:
                    return got
            else:
                await self.pause(call, seconds)
        return None


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _close(aw: Awaitable[Any]) -> None:
    """Dispose of an awaitable that will never be awaited (no 'never awaited' warning)."""
    if asyncio.iscoroutine(aw):
        aw.close()
