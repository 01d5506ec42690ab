"""The sandbox service's settings: environment variables with the prefix ``REWARDGATE_SANDBOX_SERVICE_``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REWARDGATE_SANDBOX_SERVICE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the sandbox service binds to.")
    port: int = Field(8100, ge=1, le=65535, description="Its HTTP port.")
    workers: int = Field(
        0, ge=0, description="Runs at a time: verifier processes, each with its cell (0 = CPUs)."
    )
    max_queue: int = Field(
        64, ge=0, description="Runs that may wait for a free worker; beyond them a run gets 429 at once."
    )
    max_body_bytes: int = Field(16 * 1024 * 1024, gt=0, description="Largest run request (413 above).")
    max_deadline_ms: int = Field(
        600_000, gt=0, description="Upper bound on a run's deadline, waiting in the queue included."
    )
    drain_grace_s: float = Field(
        60.0, ge=0, description="On SIGTERM: time runs in flight have to finish before the process exits."
    )
    log_level: str = Field("info", description="Python logging level name.")
