"""Dynamic batching of model work across concurrent requests."""
