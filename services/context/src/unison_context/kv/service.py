"""Context KV rules (contract.md): every key of a tiered put starts with `{person_id}:`,
tier B keys contain `:profile:`; values are sealed under the person's data key (AAD binds
the key), so a workflow or capability record is as durable as the database."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from unison_shared import jsonutil
from unison_shared.auth import RequestContext
from unison_shared.errors import ValidationFailed

from ..keys.service import PersonKeys
from ..settings import ContextOptions
from . import repository
from .repository import KVWrite

TIERS = ("A", "B", "C")
MAX_ITEMS = 1000
MAX_KEY = 512
EXPORT_LIMIT = 10_000


class KVInvalid(ValidationFailed):
    """A refused KV request: `legacy_code` is the legacy ok:false error."""

    def __init__(self, code: str, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}", field=field_name, reason=reason)
        self.legacy_code = code
        self.field = field_name


def _check_key(key: Any, field: str) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
        raise KVInvalid("invalid-items", field, f"keys are strings of 1 to {MAX_KEY} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise KVInvalid("invalid-items", field, "keys must not contain control characters")
    return key


def validate_put(person_id: Any, tier: Any, items: Any) -> dict[str, Any]:
    if not isinstance(person_id, str) or not person_id:
        raise KVInvalid("invalid-person_id", "person_id", "must be a non-empty string")
    if tier not in TIERS:
        raise KVInvalid("invalid-tier", "tier", "must be A, B or C")
    if not isinstance(items, dict) or not items:
        raise KVInvalid("invalid-items", "items", "must be a non-empty object")
    if len(items) > MAX_ITEMS:
        raise KVInvalid("invalid-items", "items", f"at most {MAX_ITEMS} items per call")
    for key in items:
        _check_key(key, f"items.{key}")
        if not key.startswith(f"{person_id}:"):
            raise KVInvalid("invalid-namespace", f"items.{key}",
                            "every key starts with '{person_id}:'")
        if tier == "B" and ":profile:" not in key:
            raise KVInvalid("tier-mismatch", f"items.{key}", "tier B keys contain ':profile:'")
    return items


class ContextKVService:
    def __init__(self, keys: PersonKeys, opts: ContextOptions) -> None:
        self.keys = keys
        self.max_bytes = opts.max_json_bytes

    async def put(self, pg: asyncpg.Connection, ctx: RequestContext, tier: str | None,
                  items: dict[str, Any]) -> int:
        """Write every item in the caller's transaction; returns how many."""
        writes = []
        for key, value in items.items():
            try:
                text = jsonutil.encode_jsonb(value, f"items.{key}", self.max_bytes)
            except ValidationFailed as exc:
                raise KVInvalid("invalid-items", f"items.{key}",
                                exc.detail.rpartition(": ")[2]) from exc
            dek, blob = await self.keys.seal(pg, ctx.tenant_id, ctx.person_id, "kv",
                                             f"kv:{key}", text.encode())
            writes.append(KVWrite(key, tier, blob, dek))
        await repository.put_many(pg, ctx.tenant_id, ctx.person_id, writes)
        return len(writes)

    async def set(self, pg: asyncpg.Connection, ctx: RequestContext, key: Any,
                  value: Any) -> None:
        await self.put(pg, ctx, None, {_check_key(key, "key"): value})

    async def get(self, pg: asyncpg.Connection, ctx: RequestContext,
                  keys: Any) -> dict[str, Any]:
        if not isinstance(keys, list) or len(keys) > MAX_ITEMS:
            raise KVInvalid("invalid-keys", "keys", f"must be a list of at most {MAX_ITEMS}")
        wanted = [_check_key(k, f"keys[{i}]") for i, k in enumerate(keys)]
        values: dict[str, Any] = dict.fromkeys(wanted)
        for row in await repository.get_many(pg, ctx.tenant_id, ctx.person_id, wanted):
            values[row.key] = await self.open_row(pg, ctx, row)
        return values

    async def open_row(self, pg: asyncpg.Connection, ctx: RequestContext,
                    row: repository.KVRow) -> Any:
        plain = await self.keys.open(pg, ctx.tenant_id, ctx.person_id, "kv", f"kv:{row.key}",
                                     row.dek_version, row.ciphertext)
        return orjson.loads(plain)

    async def export_profile(self, pg: asyncpg.Connection, ctx: RequestContext) -> dict[str, Any]:
        rows = await repository.profile_keys(pg, ctx.tenant_id, ctx.person_id,
                                             f"{ctx.person_id}:", EXPORT_LIMIT)
        return {row.key: await self.open_row(pg, ctx, row) for row in rows}
