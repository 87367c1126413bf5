"""Who receives what: the event bus, the WebSocket hub, audiences and call routing."""
