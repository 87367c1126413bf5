"""The sandbox's TwiML validator: what Twilio accepts runs, what it would refuse is named."""

from __future__ import annotations

import pytest

from telephony.sandbox.twiml import QUEUE_URL_VERBS, client_identity, client_parameters, parse_twiml


def test_a_full_document_is_valid_and_keeps_its_structure() -> None:
    document = parse_twiml(
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Gather input="dtmf speech" numDigits="1" action="/menu" finishOnKey=""><Say voice="alice">Hi '
        '<break time="1s"/><emphasis>over</emphasis> there</Say>'
        '<Play loop="2">https://x.test/a.mp3</Play><Pause length="1"/></Gather>'
        '<Dial callerId="+12025550100" timeout="20" answerOnBridge="true">'
        '<Client statusCallbackEvent="ringing answered"><Identity>alice</Identity>'
        '<Parameter name="k" value="v"/></Client>'
        '<Number>+12025550143</Number></Dial><Enqueue waitUrl="w">q</Enqueue><Leave/>'
        '<Record maxLength="30" transcribe="true"/><Redirect method="GET">/next</Redirect>'
        '<Reject reason="busy"/><Hangup/></Response>'
    )
    assert document.violations == []
    gather, dial = document.verbs[0], document.verbs[1]
    assert [c.tag for c in gather.children] == ["Say", "Play", "Pause"]
    assert gather.children[0].text == "Hi over there"
    client = dial.children[0]
    assert client_identity(client) == "alice" and client_parameters(client) == {"k": "v"}
    assert client.words("statusCallbackEvent") == {"ringing", "answered"}


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ("<Response><Say>hi", "12100"),
        ("<Reply/>", "not <Response>"),
        ("<Response><Connect/></Response>", "not emulated"),
        ("<Response><Sayy/></Response>", "not a TwiML Voice verb"),
        ('<Response><Say tone="x">hi</Say></Response>', "no attribute 'tone'"),
        ('<Response><Gather timeout="soon"/></Response>', "whole number"),
        ('<Response><Gather method="PUT"/></Response>', "GET or POST"),
        ('<Response><Gather input="touch"/></Response>', "input"),
        ('<Response><Gather finishOnKey="##"/></Response>', "finishOnKey"),
        ("<Response><Gather><Record/></Gather></Response>", "not allowed inside <Gather>"),
        ("<Response><Dial><Say>x</Say></Dial></Response>", "not allowed inside <Dial>"),
        ("<Response><Dial/></Response>", "nothing to dial"),
        ('<Response><Reject reason="later"/></Response>', "reason"),
        ("<Response><Redirect/></Response>", "needs text"),
        ("<Response>stray<Hangup/></Response>", "text outside"),
        (
            '<Response><Dial><Client statusCallbackEvent="queued">a</Client></Dial></Response>',
            "statusCallbackEvent",
        ),
        ('<Response><Record playBeep="yes"/></Response>', "true or false"),
    ],
)
def test_what_twilio_would_refuse_is_named(document: str, complaint: str) -> None:
    parsed = parse_twiml(document)
    assert not parsed.valid
    assert any(complaint in v for v in parsed.violations), parsed.violations


def test_a_context_narrows_the_verbs() -> None:
    parsed = parse_twiml("<Response><Say>hold on</Say><Dial>+12025550143</Dial></Response>", QUEUE_URL_VERBS)
    assert [v for v in parsed.violations if "<Dial> is not allowed here" in v]
