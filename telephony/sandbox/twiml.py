"""Reading TwiML Voice documents as Twilio does: parse, then check every verb, noun and attribute.

`parse_twiml` never raises: it returns the document's verbs and a list of violations. A document with
any violation is refused whole by the call engine (the caller hears "An application error has
occurred" and the call ends), so a server bug shows up in tests instead of being half-executed.

What is checked (from Twilio's TwiML Voice reference):
- the root is <Response>, with no attributes and only verbs inside;
- each verb and noun is one the sandbox executes (Say, Play, Pause, Gather, Record, Dial with
  Number/Client/Conference/Queue or a plain number, Enqueue, Leave, Hangup, Redirect, Reject), with only
  its documented attributes, and only its allowed children (Gather: Say/Play/Pause; Client:
  Identity/Parameter; Say: text and SSML tags);
- attribute values that Twilio constrains: methods GET/POST, whole numbers, true/false flags, Gather's
  input and finishOnKey, Reject's reason, statusCallbackEvent words, non-empty Play/Redirect URLs;
- in a restricted context (a queue's or conference's waitUrl, a <Queue url>), only the verbs Twilio
  allows there.
Documented verbs the sandbox does not emulate (Connect, Pay, Start, Refer, ...) are violations too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from xml.etree import ElementTree

NUMBERS = "number"
FLAGS = "flag"
METHOD = "method"
URL = "url"
TEXT = "text"

_RECORDING_CALLBACK = {
    "recordingStatusCallback": URL,
    "recordingStatusCallbackMethod": METHOD,
    "recordingStatusCallbackEvent": TEXT,
}
_PROGRESS_CALLBACK = {"statusCallbackEvent": TEXT, "statusCallback": URL, "statusCallbackMethod": METHOD}

# Each verb or noun: its attributes (name → kind) and the child tags it may hold.
ATTRIBUTES: dict[str, dict[str, str]] = {
    "Response": {},
    "Say": {"voice": TEXT, "language": TEXT, "loop": NUMBERS},
    "Play": {"loop": NUMBERS, "digits": TEXT},
    "Pause": {"length": NUMBERS},
    "Gather": {
        "input": TEXT,
        "action": URL,
        "method": METHOD,
        "timeout": NUMBERS,
        "speechTimeout": TEXT,
        "maxSpeechTime": NUMBERS,
        "profanityFilter": FLAGS,
        "finishOnKey": TEXT,
        "numDigits": NUMBERS,
        "partialResultCallback": URL,
        "partialResultCallbackMethod": METHOD,
        "language": TEXT,
        "hints": TEXT,
        "bargeIn": FLAGS,
        "debug": FLAGS,
        "actionOnEmptyResult": FLAGS,
        "speechModel": TEXT,
        "enhanced": FLAGS,
    },
    "Record": {
        "action": URL,
        "method": METHOD,
        "timeout": NUMBERS,
        "finishOnKey": TEXT,
        "maxLength": NUMBERS,
        "playBeep": FLAGS,
        "trim": TEXT,
        "transcribe": FLAGS,
        "transcribeCallback": URL,
        "recordingConfigurationId": TEXT,
        **_RECORDING_CALLBACK,
    },
    "Dial": {
        "action": URL,
        "method": METHOD,
        "timeout": NUMBERS,
        "hangupOnStar": FLAGS,
        "timeLimit": NUMBERS,
        "callerId": TEXT,
        "record": TEXT,
        "trim": TEXT,
        "answerOnBridge": FLAGS,
        "ringTone": TEXT,
        "recordingTrack": TEXT,
        "sequential": FLAGS,
        "referUrl": URL,
        "referMethod": METHOD,
        "events": TEXT,
        "recordingConfigurationId": TEXT,
        **_RECORDING_CALLBACK,
    },
    "Number": {"sendDigits": TEXT, "url": URL, "method": METHOD, "byoc": TEXT, **_PROGRESS_CALLBACK},
    "Client": {"url": URL, "method": METHOD, **_PROGRESS_CALLBACK},
    "Identity": {},
    "Parameter": {"name": TEXT, "value": TEXT},
    "Conference": {
        "muted": FLAGS,
        "beep": TEXT,
        "startConferenceOnEnter": FLAGS,
        "endConferenceOnExit": FLAGS,
        "waitUrl": URL,
        "waitMethod": METHOD,
        "maxParticipants": NUMBERS,
        "record": TEXT,
        "region": TEXT,
        "coach": TEXT,
        "trim": TEXT,
        "eventCallbackUrl": URL,
        "jitterBufferSize": TEXT,
        "participantLabel": TEXT,
        "recordingConfigurationId": TEXT,
        **_PROGRESS_CALLBACK,
        **_RECORDING_CALLBACK,
    },
    "Queue": {"url": URL, "method": METHOD, "reservationSid": TEXT, "postWorkActivitySid": TEXT},
    "Enqueue": {
        "action": URL,
        "method": METHOD,
        "waitUrl": URL,
        "waitUrlMethod": METHOD,
        "workflowSid": TEXT,
        "maxQueueSize": NUMBERS,
    },
    "Leave": {},
    "Hangup": {},
    "Redirect": {"method": METHOD},
    "Reject": {"reason": TEXT},
}
SSML = frozenset(("break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"))
CHILDREN: dict[str, frozenset[str]] = {
    "Gather": frozenset(("Say", "Play", "Pause")),
    "Dial": frozenset(("Number", "Client", "Conference", "Queue")),
    "Client": frozenset(("Identity", "Parameter")),
    "Say": SSML,
    "Hangup": frozenset(("Parameter",)),
}
VERBS = frozenset(
    ("Say", "Play", "Pause", "Gather", "Record", "Dial", "Enqueue", "Leave", "Hangup", "Redirect", "Reject")
)
UNSUPPORTED = frozenset(("Connect", "Pay", "Prompt", "Refer", "Start", "Stop", "Echo", "Sms", "Message"))
# Where Twilio restricts the verbs (TwiML reference for Enqueue waitUrl, Conference waitUrl, Queue url).
QUEUE_WAIT_VERBS = frozenset(("Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"))
CONFERENCE_WAIT_VERBS = frozenset(("Play", "Say", "Pause", "Redirect"))
QUEUE_URL_VERBS = frozenset(("Play", "Say", "Pause", "Redirect"))
HOLD_VERBS = CONFERENCE_WAIT_VERBS
PROGRESS_EVENTS = frozenset(("initiated", "ringing", "answered", "completed"))
CONFERENCE_EVENTS = frozenset(
    ("start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement")
)
_WHOLE = re.compile(r"^\d+$")


@dataclass
class Node:
    """One verb or noun: its tag, attributes as written, text and children in order."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Node] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        """An attribute as written, or the default."""
        return self.attrs.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        """A true/false attribute (Twilio accepts any case)."""
        value = self.attrs.get(name)
        return default if value is None else value.strip().lower() == "true"

    def number(self, name: str, default: int) -> int:
        """A whole-number attribute (validated before execution)."""
        value = self.attrs.get(name, "").strip()
        return int(value) if _WHOLE.match(value) else default

    def words(self, name: str) -> set[str]:
        """A space- or comma-separated list attribute, e.g. statusCallbackEvent."""
        return {w for w in re.split(r"[\s,]+", self.attrs.get(name, "").strip()) if w}


@dataclass
class Document:
    """A parsed TwiML document: its verbs in order and every rule it breaks."""

    verbs: list[Node]
    violations: list[str]

    @property
    def valid(self) -> bool:
        """Whether the engine may execute it."""
        return not self.violations


def parse_twiml(text: str, allowed_verbs: Collection[str] | None = None) -> Document:
    """Parse and validate one TwiML Voice document; `allowed_verbs` narrows the verbs for a context."""
    try:
        # The document is the configured server's answer to a local test tool, and expat bounds
        # entity expansion, so the standard parser is enough here.
        root = ElementTree.fromstring(text)  # noqa: S314
    except ElementTree.ParseError as exc:
        return Document([], [f"12100 document parse failure: {exc}"])
    violations: list[str] = []
    if root.tag != "Response":
        return Document([], [f"12200 the root element is <{root.tag}>, not <Response>"])
    if root.attrib:
        violations.append("12200 <Response> takes no attributes")
    if (root.text or "").strip():
        violations.append("12200 <Response> holds text outside any verb")
    verbs = []
    for element in root:
        node = _node(element, violations, "Response")
        if (element.tail or "").strip():
            violations.append(f"12200 text after <{element.tag}> outside any verb")
        if node is None:
            continue
        if allowed_verbs is not None and node.tag not in allowed_verbs:
            only = ", ".join(sorted(allowed_verbs))
            violations.append(f"12200 <{node.tag}> is not allowed here (only {only})")
        verbs.append(node)
    return Document(verbs, violations)


def _node(element: ElementTree.Element, violations: list[str], parent: str) -> Node | None:
    tag = element.tag
    if not isinstance(tag, str):  # a comment or processing instruction
        return None
    if parent == "Response" and tag not in VERBS:
        reason = "is not emulated by the sandbox" if tag in UNSUPPORTED else "is not a TwiML Voice verb"
        violations.append(f"12200 <{tag}> {reason}")
        return None
    if parent == "Say":  # SSML: kept as text only
        return Node(tag, dict(element.attrib), "".join(element.itertext()))
    known = ATTRIBUTES[tag]
    for name, value in element.attrib.items():
        kind = known.get(name)
        if kind is None:
            violations.append(f"12200 <{tag}> has no attribute {name!r}")
        else:
            problem = _bad_value(kind, value)
            if problem:
                violations.append(f"12200 <{tag} {name}={value!r}>: {problem}")
    node = Node(tag, dict(element.attrib), element.text or "")
    allowed = CHILDREN.get(tag, frozenset())
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in allowed:
            violations.append(f"12200 <{child.tag}> is not allowed inside <{tag}>")
            continue
        sub = _node(child, violations, tag)
        if sub is not None:
            node.children.append(sub)
        if tag == "Say":  # what an SSML tag wraps is still said
            node.text += (sub.text if sub is not None else "") + (child.tail or "")
    _check_verb(node, violations)
    return node


def _bad_value(kind: str, value: str) -> str:
    value = value.strip()
    if kind == METHOD and value.upper() not in ("GET", "POST"):
        return "must be GET or POST"
    if kind == NUMBERS and not _WHOLE.match(value):
        return "must be a whole number"
    if kind == FLAGS and value.lower() not in ("true", "false"):
        return "must be true or false"
    return ""


def _check_verb(node: Node, violations: list[str]) -> None:
    """The rules on particular verbs beyond their attribute names."""
    tag, text = node.tag, node.text.strip()
    if tag == "Gather":
        inputs = node.words("input") or {"dtmf"}
        if not inputs <= {"dtmf", "speech"}:
            violations.append("12200 <Gather input> must be dtmf, speech or 'dtmf speech'")
        key = node.get("finishOnKey", "#")
        if len(key) > 1 or (key and key not in "0123456789*#"):
            violations.append("12200 <Gather finishOnKey> must be one of 0-9, *, # or empty")
    elif tag == "Reject" and node.get("reason", "rejected") not in ("rejected", "busy"):
        violations.append("12200 <Reject reason> must be rejected or busy")
    elif tag in ("Redirect", "Queue", "Enqueue", "Conference", "Identity") and not text:
        violations.append(f"12200 <{tag}> needs text (its URL or name)")
    elif tag == "Play" and not text and not node.get("digits"):
        violations.append("12200 <Play> needs a URL or digits")
    elif tag == "Parameter" and not node.get("name"):
        violations.append("12200 <Parameter> needs a name")
    elif tag == "Dial":
        if text and node.children:
            violations.append("12200 <Dial> holds both a plain number and nouns")
        if not text and not node.children:
            violations.append("12200 <Dial> has nothing to dial")
    elif tag == "Client" and not text and not any(c.tag == "Identity" for c in node.children):
        violations.append("12200 <Client> needs an identity")
    if tag in ("Number", "Client") and not node.words("statusCallbackEvent") <= PROGRESS_EVENTS:
        only = ", ".join(sorted(PROGRESS_EVENTS))
        violations.append(f"12200 <{tag} statusCallbackEvent> takes only {only}")
    if tag == "Conference" and not node.words("statusCallbackEvent") <= CONFERENCE_EVENTS:
        violations.append("12200 <Conference statusCallbackEvent> has an unknown event")


def client_identity(node: Node) -> str:
    """The identity a <Client> dials: its <Identity> child, else its own text."""
    for child in node.children:
        if child.tag == "Identity":
            return child.text.strip()
    return node.text.strip()


def client_parameters(node: Node) -> dict[str, str]:
    """The custom <Parameter>s of a <Client>, delivered to the softphone with the incoming call."""
    return {c.get("name"): c.get("value") for c in node.children if c.tag == "Parameter"}
