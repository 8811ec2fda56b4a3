"""Settings every service shares. Each service subclasses with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


class AuthSettings(BaseSettings):
    """Token verification. HS256 for development and tests, RS256/JWKS in production."""

    model_config = SettingsConfigDict(env_prefix="UNISON_AUTH_", extra="ignore")

    hs256_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwks_cache_seconds: int = 300
    issuer: str | None = None
    accept_service_tokens: bool = False
    # Tokens without a household (service tokens) act in this tenant.
    service_tenant: str = "system"
    leeway_seconds: int = 30


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNISON_", extra="ignore")

    service_name: str = "unison"
    environment: Environment = Environment.PRODUCTION
    database_url: SecretStr = SecretStr("postgresql+asyncpg://unison@127.0.0.1:5432/unison")
    # The system role's URL, for system jobs (sweeps, reconcile, key rotation): a role
    # whose own policy shows it every tenant's rows. Unset: the service runs no system
    # job that needs it, and `Database.system()` says so.
    database_system_url: SecretStr | None = None
    database_pool_size: int = 20
    # Shown in pg_stat_activity; defaults to the service's name.
    database_application_name: str | None = None
    redis_url: str | None = None
    log_level: str = "INFO"
    # One JSON line per request (method, route template, status, duration, request id).
    access_log: bool = True
    # FastAPI's native OpenTelemetry spans and metrics, for a process with an OTel SDK
    # configured. Off by default: the service has its own request metrics (/metrics) and
    # JSON logs, and the check costs every request (docs/performance.md).
    otel_telemetry: bool = False
    # Path operations resolve their parameters from a plan built once per route
    # (compiled_routes.py, which reads FastAPI private names checked against the pinned
    # FastAPI minor version). Off: FastAPI's own handler serves every route.
    compiled_routes: bool = True
    # Largest request body a non-streaming route accepts (413 above it, before parsing).
    max_request_body_bytes: int = 32 * 1024 * 1024
    # Deepest nesting of arrays and objects a JSON body may have (422 deeper, before
    # parsing). At most 200: replies are serialised by orjson, which stops at 254.
    max_json_depth: int = Field(default=64, ge=1, le=200)
    # Seconds a request body may go without a byte arriving before the answer is 408.
    request_body_timeout_seconds: float = Field(default=15.0, gt=0)
    state_dir: Path = Path(".devstack")
    # Key-encryption keys: a JSON keyring inline or in a file ({"current": "v1",
    # "keys": {"v1": "<base64 32 bytes>"}}). In dev a keyring is generated into state_dir.
    kek_keyring: SecretStr | None = None
    kek_keyring_file: Path | None = None
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @model_validator(mode="after")
    def _postgres_only(self) -> ServiceSettings:
        url = self.database_url.get_secret_value()
        if not url.startswith("postgresql"):
            raise ValueError("database_url: the services run on PostgreSQL "
                             "(postgresql+asyncpg://...); `make up` runs an embedded server")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION
