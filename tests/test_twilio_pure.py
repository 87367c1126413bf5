"""Pure carrier logic against public vectors: segment counts and Twilio's own signature vectors."""

from __future__ import annotations

import json

import pytest
from multidict import MultiDict, MultiDictProxy

from comms.errors import SignatureInvalid
from comms.segments import count_segments
from config.settings import Settings
from telephony.signature import check_signature
from tests.conftest import testdata as shared_file


def _segment_vectors() -> list[dict[str, object]]:
    data = json.loads(shared_file("twilio_segment_vectors.json").read_text())
    return list(data["basic"]) + list(data["extra"])


def test_segment_counts_match_twilios_calculator() -> None:
    vectors = _segment_vectors()
    assert len(vectors) == 48
    for case in vectors:
        result = count_segments(str(case["body"]))
        assert result.segments == case["segments"], case["testDescription"]
        if "encoding" in case:
            assert result.encoding == case["encoding"], case["testDescription"]


def _settings(token: str) -> Settings:
    return Settings.model_validate({"twilio": {"auth_token": token, "webhook_shared_key": "shared-secret-1"}})


def test_signature_vectors_from_twilio_python() -> None:
    data = json.loads(shared_file("twilio_request_validator_vectors.json").read_text())
    settings = _settings(data["auth_token"])
    for case in data["cases"]:
        headers = {"X-Twilio-Signature": case["sig"]}
        if case["valid"]:
            check_signature(settings, case["url"], data["params"], headers)
        else:
            with pytest.raises(SignatureInvalid):
                check_signature(settings, case["url"], data["params"], headers)
    dup = data["duplicate_params"]
    params = MultiDictProxy(MultiDict([(k, v) for k, v in dup["pairs"]]))
    check_signature(settings, data["uri"], params, {"X-Twilio-Signature": dup["sig"]})


def test_forged_missing_and_sha256_signatures() -> None:
    from twilio.request_validator import HMAC_SHA256, RequestValidator

    settings = _settings("token-abcdef")
    url, params = "https://frontdesk.example/twilio/sms", {"Body": "hi", "From": "+12025550143"}
    good = RequestValidator("token-abcdef").compute_signature(url, params)
    check_signature(settings, url, params, {"X-Twilio-Signature": good})
    with pytest.raises(SignatureInvalid):
        check_signature(settings, url, {**params, "Body": "changed"}, {"X-Twilio-Signature": good})
    with pytest.raises(SignatureInvalid):
        check_signature(settings, url, params, {})
    sha256 = RequestValidator("shared-secret-1").compute_signature(url, params, HMAC_SHA256)
    headers = {
        "X-Twilio-Signature": sha256,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }
    check_signature(settings, url, params, headers)
    with pytest.raises(SignatureInvalid):
        check_signature(settings, url, params, {**headers, "X-Twilio-Signature": good})
