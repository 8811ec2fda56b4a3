"""Storage service settings (env prefix STORAGE_, shared ones under UNISON_)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from unison_shared.settings import ServiceSettings


class ObjectBackend(StrEnum):
    FS = "fs"
    S3 = "s3"


class StorageOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORAGE_", extra="ignore")

    object_backend: ObjectBackend = ObjectBackend.FS
    object_fs_root: Path = Path(".devstack/objects")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "unison-objects"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    # Per-tenant byte quota (0 = unlimited) and the largest single object accepted.
    object_quota_bytes: int = 0
    object_max_bytes: int = 5 * 1024**3
    # HMAC key for presigned download URLs; dev/test derive one from the KEK keyring.
    presign_secret: SecretStr | None = None
    presign_max_seconds: int = 7 * 24 * 3600
    memory_default_ttl_seconds: int = 3600
    memory_keyspace_ttls: dict[str, int] = Field(default_factory=dict)
    memory_max_ttl_seconds: int = 30 * 24 * 3600
    sweep_interval_seconds: float = 30.0
    sweep_batch_size: int = 1000
    # Scheduled object reconcile (0 = off; `unison-storage reconcile-objects` runs it by
    # hand). One replica at a time. Orphan payloads past the grace period are deleted;
    # rows whose payload is missing are reported, and deleted only with repair_rows (a
    # store that lost data, or a wrong mount, is for a person to look at first).
    reconcile_interval_seconds: float = Field(default=0.0, ge=0)
    reconcile_grace_seconds: float = Field(default=3600.0, ge=0)
    reconcile_repair_rows: bool = False
    # Ed25519 key that signs audit checkpoints: base64 of its 32-byte seed, inline or
    # in a file; dev/test generate one into the state directory. Keep it away from the
    # database: whoever holds it can sign a rewritten chain.
    audit_signing_key: SecretStr | None = None
    audit_signing_key_file: Path | None = None
    # Seconds between passes that sign every tenant's new chain head (0 = only on
    # demand, POST /v1/audit/checkpoints). One replica signs at a time.
    audit_checkpoint_interval_seconds: float = Field(default=300.0, ge=0)
    # Trace attribute values larger than this are stored as objects (the span keeps a
    # reference); one OTLP request may carry at most traces_max_spans_per_request spans.
    traces_inline_attribute_bytes: int = Field(default=8 * 1024, ge=256)
    traces_max_spans_per_request: int = Field(default=10_000, ge=1)
    kv_sensitive_namespaces: list[str] = Field(default_factory=lambda: ["vault"])
    vault_max_versions: int = 10
    max_json_bytes: int = 1024 * 1024
    legacy_object_max_bytes: int = 16 * 1024 * 1024
    # Agent-runtime records (threads, messages, state, artifacts, cache).
    # Message content and sealed states above these sizes are stored as objects.
    agent_message_inline_max_bytes: int = Field(default=64 * 1024, ge=1)
    agent_state_inline_max_bytes: int = Field(default=64 * 1024, ge=1)
    agent_state_max_versions: int = Field(default=20, ge=1)
    agent_state_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    agent_artifact_inline_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    # The Redis cache: a value's TTL is the caller's, at most the maximum; without one
    # it gets the default (the maximum unless configured lower).
    cache_default_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    cache_max_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    cache_max_value_bytes: int = Field(default=1024 * 1024, ge=1)
    cache_retry_after_seconds: int = Field(default=5, ge=1)
    # Vector search. A filtered search whose filter matches at most this many documents
    # of the collection compares them all (exact); beyond it, the collection's HNSW index
    # with iterative scans, and an exact scan when that finds fewer than the limit.
    vector_exact_scan_max_rows: int = Field(default=10_000, ge=1000)
    vector_ef_search: int = Field(default=100, ge=10, le=1000)
    vector_max_scan_tuples: int = Field(default=50_000, ge=1000)
    # Suspended workflows: how often every replica fires due timers and timeouts
    # (SKIP LOCKED keeps replicas apart) and how many rows one transaction fires.
    workflow_timer_interval_seconds: float = Field(default=5.0, gt=0)
    workflow_timer_batch_size: int = Field(default=500, ge=1)
    # Retention: days kept per data class (a tenant may override them), rows per
    # maintenance batch, and how often the scheduled run starts (0 = only on demand,
    # POST /v1/maintenance/run); one run at a time across replicas.
    retention_days: dict[str, int] = Field(default_factory=lambda: {
        "traces": 7, "threads": 30, "evals": 90, "workflows": 365, "metrics": 90,
        "memory": 30})
    retention_batch_size: int = Field(default=1000, ge=1)
    retention_interval_seconds: float = Field(default=3600.0, ge=0)
    # How often each replica refreshes the rows/bytes gauges per data class from the
    # catalogue (0 = never).
    statistics_interval_seconds: float = Field(default=60.0, ge=0)


class StorageSettings(ServiceSettings):
    service_name: str = "storage"
    storage: StorageOptions = Field(default_factory=StorageOptions)
