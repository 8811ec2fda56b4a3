"""Context service settings (env prefix CONTEXT_, shared ones under UNISON_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from unison_shared.settings import ServiceSettings


class ContextOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTEXT_", extra="ignore")

    # Profile versions kept per person (the current one included); older ones are pruned.
    profile_history_max: int = Field(default=20, ge=1, le=1000)
    # Largest profile / dashboard / KV value / message, as JSON text.
    max_json_bytes: int = Field(default=256 * 1024, ge=1024)
    # Messages one session keeps; a legacy POST with more is refused.
    max_messages_per_session: int = Field(default=10_000, ge=1)
    # argon2id cost of PIN/passcode hashes (argon2-cffi's RFC 9106 low-memory profile by
    # default; tests lower it).
    pin_time_cost: int = Field(default=3, ge=1)
    pin_memory_cost_kib: int = Field(default=65536, ge=8)
    pin_parallelism: int = Field(default=4, ge=1)


class ContextSettings(ServiceSettings):
    service_name: str = "context"
    context: ContextOptions = Field(default_factory=ContextOptions)
