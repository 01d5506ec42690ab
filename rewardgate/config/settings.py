"""Process settings, read from the environment (prefix ``REWARDGATE_``).

Settings are built explicitly (``Settings()``) and injected into
``create_app``; nothing reads the environment at import time.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_pipeline_file() -> Path:
    """The pipeline file shipped with the package (math and similarity pipelines)."""
    return Path(str(resources.files("rewardgate") / "defaults" / "pipelines.yaml"))


class Settings(BaseSettings):
    """Every knob of the service. Units are part of the names."""

    model_config = SettingsConfigDict(env_prefix="REWARDGATE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="HTTP port.")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 disables the gRPC server).")
    config_path: Path = Field(
        default_factory=default_pipeline_file,
        description="Pipeline YAML (models, rules, pipelines).",
    )
    log_level: str = Field("info", description="Python logging level name.")
    access_log: bool = Field(
        True,
        description="One log line per HTTP request (uvicorn's access log, API keys redacted). Off, a "
        "single-item request costs the server less (docs/benchmarks.md); metrics still count every request.",
    )
    api_keys: str | None = Field(
        None,
        description="API keys, as lines 'NAME SHA256-HEX [ITEMS_PER_S [BURST]]' separated by newlines or "
        "';' (digests only, see `rewardgate api-key`). Any key configured turns authentication on.",
    )
    api_keys_file: Path | None = Field(None, description="A file of API key lines (same format as api_keys).")
    auth_metrics_open: bool = Field(
        True, description="With authentication on, leave /metrics open for scrapers (probes always are)."
    )
    drain_grace_s: float = Field(
        60.0,
        gt=0,
        description="On SIGTERM, time in-flight HTTP and gRPC work has to finish before exit "
        "(keep the pod's terminationGracePeriodSeconds above it).",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="An HTTP connection whose request headers take longer is closed."
    )
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, description="An idle keep-alive HTTP connection is closed after this long."
    )

    default_deadline_ms: int = Field(30_000, gt=0, description="Deadline applied when a request gives none.")
    max_deadline_ms: int = Field(600_000, gt=0, description="Upper bound on a caller-supplied deadline.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest accepted request body (413 above)."
    )
    max_items_per_request: int = Field(4096, gt=0, description="Most items in one request (413 above).")
    group_wait_ms: int = Field(
        30_000,
        gt=0,
        description="A group sent over several requests waits this long after its first sample for "
        "the rest; then its samples are answered group_incomplete (docs/groups.md).",
    )
    group_max_open: int = Field(10_000, gt=0, description="Most groups assembled at once (429 above).")
    group_peers: str | None = Field(
        None,
        description="Every replica's base URL, comma-separated, or dns://HEADLESS-SERVICE:PORT: a group's "
        "samples are forwarded to the replica owning its id.",
    )
    group_self: str | None = Field(None, description="This replica's URL among group_peers (default: found).")
    group_peer_api_key: str | None = Field(
        None, description="API key sent with forwarded samples when the peers require keys."
    )
    max_text_chars: int = Field(
        200_000, gt=0, description="Longest prompt/response/reference in characters (413 above)."
    )
    max_image_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest encoded image in an item (413 above)."
    )
    max_image_pixels: int = Field(
        4096 * 4096,
        gt=0,
        description="Most pixels (width x height) of one image, checked from its header before any "
        "pixel is decoded: decompression bombs get 413.",
    )
    max_image_frames: int = Field(1, gt=0, description="Most frames of one (animated) image (413 above).")
    max_images_per_item: int = Field(16, gt=0, description="Most images in one item's prompt (413 above).")
    image_url_hosts: str = Field(
        "",
        description="Comma-separated hosts whose http(s) image URLs are fetched; empty, URLs are refused.",
    )
    image_url_allow_private: bool = Field(
        False,
        description="Also fetch image URLs whose host resolves to a loopback, private, link-local or other "
        "non-public address (image hosts on the operator's own network); off, such URLs are a 422.",
    )
    image_fetch_timeout_s: float = Field(5.0, gt=0, description="Longest fetch of one image URL.")
    image_root: Path | None = Field(
        None,
        description="Directory under which image parts may name files (`path`, `file://`); "
        "unset, files are refused.",
    )
    max_inflight_items: int = Field(
        16_384,
        gt=0,
        description="Items admitted concurrently across all requests; beyond it requests get 429.",
    )
    overload_retry_after_s: float = Field(
        1.0,
        gt=0,
        description="Retry-After of 429s that no throughput estimate backs (item cap, model queue full).",
    )
    admission_deadline_fraction: float = Field(
        0.4,
        gt=0,
        le=1,
        description="A request is admitted only if its pipeline's backlog, at the measured throughput, "
        "would let it finish within this fraction of its deadline (else a fast 429).",
    )
    admission_probe_items: int = Field(
        1024,
        gt=0,
        description="Items of one pipeline in flight at most while its throughput is not measured yet.",
    )

    cache_max_entries: int = Field(
        200_000, ge=0, description="In-memory score cache capacity (0 disables caching)."
    )
    cache_model_ttl_s: float = Field(86_400.0, gt=0, description="Lifetime of cached reward-model scores.")
    cache_rule_ttl_s: float = Field(86_400.0, gt=0, description="Lifetime of cached rule scores.")
    cache_judge_ttl_s: float = Field(86_400.0, gt=0, description="Lifetime of cached judge verdicts.")
    redis_url: str | None = Field(
        None,
        description="redis:// or rediss:// URL; set, the score cache is shared in Redis "
        "(fail-open); unset, it stays in memory.",
    )
    redis_namespace: str = Field("rewardgate", description="Prefix of every Redis key.")
    redis_timeout_ms: float = Field(
        50.0, gt=0, description="Budget of one Redis round trip; slower counts as a failure."
    )
    redis_breaker_failures: int = Field(
        5, gt=0, description="Consecutive Redis failures that open the breaker."
    )
    redis_breaker_reset_s: float = Field(
        5.0, gt=0, description="How long the open breaker skips Redis before probing it."
    )
    redis_max_pending_writes: int = Field(
        10_000, gt=0, description="Cache entries awaiting their Redis write; more are dropped."
    )

    verifier_workers: int = Field(
        0, ge=0, description="Processes in the rule verifier pool (0 = number of CPUs)."
    )
    verifier_max_tasks_per_worker: int = Field(
        2000, gt=0, description="Tasks before a verifier process is recycled (bounds leaks)."
    )
    model_threads: int = Field(
        0, ge=0, description="torch intra-op threads for local models (0 = torch default)."
    )
    compat_pipeline: str = Field("math", description="Pipeline used by /get_reward when the URL names none.")
    state_path: Path | None = Field(
        None,
        description="JSON file holding running standardisation statistics across restarts; "
        "unset, they live in memory only.",
    )
    state_save_interval_s: float = Field(
        10.0, gt=0, description="How often changed running statistics are written to state_path."
    )

    monitor_window_items: int = Field(
        2048,
        ge=10,
        description="Reward monitoring: the window is a pipeline's last this many items (within "
        "monitor_window_s); drift compares it with the as many items before it.",
    )
    monitor_window_s: float = Field(
        900.0, gt=0, description="Reward monitoring: items older than this leave the window."
    )
    monitor_min_items: int = Field(
        50,
        ge=2,
        description="Reward monitoring: fewest values (or groups) a statistic needs before it is "
        "reported; below it the statistic is absent rather than noise.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError(f"unknown log level {value!r}")
        return value.lower()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0")
        return value

    @model_validator(mode="after")
    def _deadlines_consistent(self) -> Settings:
        if self.default_deadline_ms > self.max_deadline_ms:
            raise ValueError(
                f"REWARDGATE_DEFAULT_DEADLINE_MS ({self.default_deadline_ms}) must not exceed "
                f"REWARDGATE_MAX_DEADLINE_MS ({self.max_deadline_ms})"
            )
        if self.grpc_port and self.grpc_port == self.port:
            raise ValueError(
                f"the HTTP port (REWARDGATE_PORT, --port) and the gRPC port (REWARDGATE_GRPC_PORT, "
                f"--grpc-port) are both {self.port}"
            )
        return self
