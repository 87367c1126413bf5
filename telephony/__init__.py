"""Carrier edge: Twilio webhooks, TwiML, the outbound client and the carrier sandbox."""
