"""Frontdesk domain core: contacts, conversations, timeline, store and actions."""
