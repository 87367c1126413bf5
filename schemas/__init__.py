"""Wire contracts: pydantic models for REST, WebSocket, events and inbound payloads."""
