"""Bearer API keys for HTTP and gRPC, with optional per-key item quotas."""
