"""Run the carrier sandbox on its own: `python -m telephony.sandbox --port 8081 --webhook-base URL`."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys

from aiohttp import web

from telephony.sandbox.app import create_sandbox_app
from telephony.sandbox.store import E164, MAGIC_OUTCOMES, SandboxConfig, new_sid


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; credentials default to TWILIO_* variables so they stay off `ps`."""
    parser = argparse.ArgumentParser(
        prog="python -m telephony.sandbox",
        description="A local stand-in for Twilio's Messaging and Voice APIs, with a patient phone at /phone.",
        epilog="Magic recipient numbers (last four digits): "
        + ", ".join(f"{k} → {o.status} {o.error_code}" for k, o in MAGIC_OUTCOMES.items()),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    parser.add_argument(
        "--webhook-base",
        default="http://127.0.0.1:8080",
        help="the Frontdesk server's base URL; inbound texts go to BASE/twilio/sms",
    )
    parser.add_argument(
        "--account-sid",
        default=os.environ.get("TWILIO_ACCOUNT_SID"),
        help="account SID to accept (default $TWILIO_ACCOUNT_SID, else a new one is made and printed)",
    )
    parser.add_argument(
        "--auth-token",
        default=os.environ.get("TWILIO_AUTH_TOKEN"),
        help="auth token that signs webhooks (default $TWILIO_AUTH_TOKEN, else made and printed)",
    )
    parser.add_argument(
        "--number", action="append", default=[], help="a practice number (E.164); repeat for several"
    )
    parser.add_argument("--messaging-service-sid", help="accept this MessagingServiceSid (MG…)")
    parser.add_argument("--public-url", help="URL the server reaches the sandbox at (for media URLs)")
    parser.add_argument("--status-delay", type=float, default=1.0, help="seconds between status steps")
    parser.add_argument(
        "--voice-time-scale",
        type=float,
        default=1.0,
        help="multiply every simulated call duration (default 1)",
    )
    parser.add_argument("--twiml-app-sid", help="the TwiML App softphones call through (AP…)")
    parser.add_argument("--twiml-app-voice-url", help="its Voice URL (default BASE/twilio/voice/outbound)")
    parser.add_argument(
        "--api-key-sid",
        default=os.environ.get("TWILIO_API_KEY_SID"),
        help="API key (SK…) whose secret ($TWILIO_API_KEY_SECRET) signs softphone tokens",
    )
    parser.add_argument("--duplicate-callbacks", action="store_true", help="send each status callback twice")
    parser.add_argument("--reorder-callbacks", action="store_true", help="send the final status first")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Build the config from the options, say how to reach the sandbox, and serve until interrupted."""
    args = parse_args(argv)
    bad = [n for n in args.number if not E164.match(n)]
    if bad:
        sys.exit(f"not E.164 numbers: {', '.join(bad)}")
    secret = os.environ.get("TWILIO_API_KEY_SECRET")
    api_keys = {args.api_key_sid: secret} if args.api_key_sid and secret else {}
    config = SandboxConfig(
        account_sid=args.account_sid or new_sid("AC"),
        auth_token=args.auth_token or secrets.token_hex(16),
        webhook_base=args.webhook_base,
        numbers=tuple(args.number),
        messaging_service_sid=args.messaging_service_sid,
        public_url=args.public_url,
        status_delay=args.status_delay,
        duplicate_callbacks=args.duplicate_callbacks,
        reorder_callbacks=args.reorder_callbacks,
        voice_time_scale=args.voice_time_scale,
        twiml_app_voice_url=args.twiml_app_voice_url,
        api_keys=api_keys,
        **({"twiml_app_sid": args.twiml_app_sid} if args.twiml_app_sid else {}),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    base = f"http://{args.host}:{args.port}"
    print(f"carrier sandbox on {base}  (patient phone: {base}/phone)")
    print(f"  account SID {config.account_sid}")
    if not args.auth_token:
        print(f"  auth token  {config.auth_token}  (generated; give the server the same one)")
    print(f"  inbound texts → {config.webhook_url}")
    print(f"  inbound calls → {config.voice_url}  (softphones: ws://{args.host}:{args.port}/sandbox/client)")
    web.run_app(create_sandbox_app(config), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
