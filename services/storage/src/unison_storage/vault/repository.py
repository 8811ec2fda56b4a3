"""SQL for vault_secrets and vault_versions. Secret rows are always found by tenant AND
person AND name; version rows by tenant AND the id of a secret found that way.

Statements are written once with :name parameters (the SQLite repository shares several)
and run on PostgreSQL through the asyncpg connection (`Positional`), not SQLAlchemy's
execution layer: a vault request is several statements in a transaction, and each costs
several times less this way (docs/performance.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from unison_shared.sqlparams import Positional

from ..audit.repository import NewEvent
from ..database import StatementConnection, fetch, fetchrow


@dataclass(frozen=True)
class SecretRow:
    id: uuid.UUID
    name: str
    current_version: int
    max_versions: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class VersionRow:
    version: int
    ciphertext: bytes | None
    dek_version: int
    created_at: datetime
    destroyed_at: datetime | None


S_COLS = ("id, name, current_version, max_versions, metadata, created_at, updated_at, "
          "deleted_at")
V_COLS = "version, ciphertext, dek_version, created_at, destroyed_at"
SCOPE = "tenant_id = :t AND person_id = :p"


# Statements both backends run, but for a dialect's fragment (constant SQL, never input).
def read_sql(version: str) -> str:
    """A secret and one of its versions (the current one when :v is NULL), in one round
    trip; `version` is the dialect's SQL for the parameter :v as an integer."""
    s_cols = ", ".join(f"s.{c.strip()}" for c in S_COLS.split(","))
    v_cols = ", ".join(f"v.{c.strip()}" for c in V_COLS.split(","))
    return (f"SELECT {s_cols}, {v_cols} FROM vault_secrets s LEFT JOIN vault_versions v "
            "ON v.tenant_id = s.tenant_id AND v.secret_id = s.id "
            f"AND v.version = COALESCE({version}, s.current_version) "
            "WHERE s.tenant_id = :t AND s.person_id = :p AND s.name = :n")


def split_read(row: Sequence[Any] | None, secret: Callable[[Sequence[Any]], SecretRow],
               version: Callable[[Sequence[Any]], VersionRow]
               ) -> tuple[SecretRow | None, VersionRow | None]:
    """The secret and its version (None when the join found none) of a `read_sql` row."""
    if row is None:
        return None, None
    n = len(fields(SecretRow))
    return secret(row[:n]), version(row[n:]) if row[n] is not None else None


def list_sql(prefix_match: str, include_deleted: str) -> str:
    """A page of names after :after; `prefix_match` tests name against :prefix and
    `include_deleted` is the dialect's SQL for the parameter :all as a boolean."""
    return (f"SELECT {S_COLS} FROM vault_secrets WHERE {SCOPE} AND name > :after "
            f"AND {prefix_match} AND ({include_deleted} OR deleted_at IS NULL) "
            "ORDER BY name LIMIT :lim")


def list_params(t: str, p: str, prefix: str, after: str, limit: int,
                include_deleted: bool) -> dict[str, Any]:
    return {"t": t, "p": p, "after": after, "prefix": prefix, "all": include_deleted,
            "lim": limit}


_READ = Positional.compile(read_sql("CAST(:v AS integer)"))
_LIST = Positional.compile(list_sql("starts_with(name, :prefix)", "CAST(:all AS boolean)"))


def _secret(r: Sequence[Any]) -> SecretRow:
    return SecretRow(*r)


def _version(r: Sequence[Any]) -> VersionRow:
    return VersionRow(*r)


_GET_SQL = f"SELECT {S_COLS} FROM vault_secrets WHERE {SCOPE} AND name = :n"
_GET = Positional.compile(_GET_SQL)
_GET_LOCKED = Positional.compile(_GET_SQL + " FOR UPDATE")


async def get_secret(conn: StatementConnection, t: str, p: str, name: str,
                     lock: bool = False) -> SecretRow | None:
    row = await fetchrow(conn, _GET_LOCKED if lock else _GET, {"t": t, "p": p, "n": name})
    return SecretRow(*row) if row else None


async def get_secret_and_version(conn: StatementConnection, t: str, p: str, name: str,
                                 version: int | None
                                 ) -> tuple[SecretRow | None, VersionRow | None]:
    """A secret and one of its versions (the current one when `version` is None), in one
    round trip: the read path of every vault read."""
    row = await fetchrow(conn, _READ, {"t": t, "p": p, "n": name, "v": version})
    return split_read(row, _secret, _version)


_LOCK_OR_CREATE = Positional.compile(
    "INSERT INTO vault_secrets AS s (id, tenant_id, person_id, name, max_versions, metadata) "
    "VALUES (:id, :t, :p, :n, :mv, CAST(:m AS jsonb)) "
    "ON CONFLICT (tenant_id, person_id, name) DO UPDATE SET name = s.name "
    f"RETURNING {S_COLS}")


async def lock_or_create(conn: StatementConnection, t: str, p: str, name: str,
                         max_versions: int, metadata_json: str) -> tuple[SecretRow, bool]:
    """The secret's row, created empty (version 0) when absent, locked until the
    transaction ends; and whether this call created it. One statement: concurrent
    creators block on the unique index, so exactly one of them creates."""
    new_id = uuid.uuid4()
    row = await fetchrow(conn, _LOCK_OR_CREATE, {"id": new_id, "t": t, "p": p, "n": name,
                                                  "mv": max_versions, "m": metadata_json})
    assert row is not None  # an upsert with RETURNING always returns its row
    secret = SecretRow(*row)
    return secret, secret.id == new_id


# The version, the secret's pointer, the pruning and the write's audit event, in one
# statement: `audit_append` (audit migration 0007) runs once for the one row `upd`
# returns, in this transaction, so the write and its event commit together.
_WRITE_VERSION = Positional.compile(f"""
    WITH ins AS (
        INSERT INTO vault_versions (tenant_id, secret_id, version, ciphertext, dek_version)
        VALUES (:t, :s, :v, :c, :d)),
    upd AS (
        UPDATE vault_secrets SET current_version = :v, updated_at = now(),
            deleted_at = NULL, metadata = COALESCE(CAST(:m AS jsonb), metadata),
            max_versions = COALESCE(CAST(:mv AS integer), max_versions)
        WHERE {SCOPE} AND id = :s RETURNING {S_COLS}),
    pruned AS (
        DELETE FROM vault_versions WHERE tenant_id = :t AND secret_id = :s
            AND version <= (SELECT :v - max_versions FROM upd))
    SELECT {", ".join(f"upd.{c.strip()}" for c in S_COLS.split(","))} FROM upd
    CROSS JOIN LATERAL audit_append(:t, :p, NULL, :a_actor, :a_action, :a_target, NULL,
                                    :a_status, :a_person, CAST(:a_payload AS jsonb)) AS a""")


async def write_version(conn: StatementConnection, t: str, p: str, secret_id: uuid.UUID,
                        version: int, ciphertext: bytes, dek_version: int,
                        metadata_json: str | None, max_versions: int | None,
                        event: NewEvent) -> SecretRow:
    """Store a new version, point the secret at it (a write also undoes a soft delete),
    delete versions older than the newest `max_versions`, and append `event` to the
    audit chain, in one round trip. The statements share a snapshot: the delete never
    sees, so never removes, the new version."""
    row = await fetchrow(conn, _WRITE_VERSION, {
        "t": t, "p": p, "s": secret_id, "v": version, "c": ciphertext, "d": dek_version,
        "m": metadata_json, "mv": max_versions, "a_actor": event.actor,
        "a_action": event.action, "a_target": event.target, "a_status": event.status,
        "a_person": event.person_id, "a_payload": event.payload_json})
    assert row is not None  # the secret row is locked by this transaction
    return SecretRow(*row)


_VERSIONS = Positional.compile(
    # The ciphertext column is not selected: metadata never needs it.
    "SELECT version, NULL, dek_version, created_at, destroyed_at FROM vault_versions "
    "WHERE tenant_id = :t AND secret_id = :s ORDER BY version")


async def list_versions(conn: StatementConnection, t: str,
                        secret_id: uuid.UUID) -> list[VersionRow]:
    return [VersionRow(*r) for r in await fetch(conn, _VERSIONS, {"t": t, "s": secret_id})]


_SET_DELETED = Positional.compile(f"""
    UPDATE vault_secrets SET deleted_at = CASE WHEN CAST(:d AS boolean)
                                               THEN COALESCE(deleted_at, now()) ELSE NULL END
    WHERE {SCOPE} AND name = :n RETURNING {S_COLS}""")


async def set_deleted(conn: StatementConnection, t: str, p: str, name: str,
                      deleted: bool) -> SecretRow | None:
    """Soft delete or undelete; keeps the first deletion time on a repeated delete."""
    row = await fetchrow(conn, _SET_DELETED, {"t": t, "p": p, "n": name, "d": deleted})
    return SecretRow(*row) if row else None


_DESTROY = Positional.compile(
    "UPDATE vault_versions SET ciphertext = NULL, "
    "destroyed_at = COALESCE(destroyed_at, now()) "
    "WHERE tenant_id = :t AND secret_id = :s "
    "AND (CAST(:all AS boolean) OR version = ANY(CAST(:vs AS integer[]))) "
    "RETURNING version")


async def destroy(conn: StatementConnection, t: str, secret_id: uuid.UUID,
                  versions: list[int] | None) -> list[int]:
    """Crypto-erase: drop the ciphertext of the given versions (None = all)."""
    rows = await fetch(conn, _DESTROY, {"t": t, "s": secret_id, "all": versions is None,
                                         "vs": versions or []})
    return sorted(int(r[0]) for r in rows)


async def list_secrets(conn: StatementConnection, t: str, p: str, prefix: str, after: str,
                       limit: int, include_deleted: bool) -> list[SecretRow]:
    rows = await fetch(conn, _LIST, list_params(t, p, prefix, after, limit, include_deleted))
    return [SecretRow(*r) for r in rows]
