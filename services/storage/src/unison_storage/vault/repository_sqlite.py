"""SQL for vault_secrets and vault_versions on SQLite (development only): the functions
of `protocol.VaultRepository` with the meaning `repository` (PostgreSQL) gives them,
and the write path of its own (`lock_or_create`, `write_version`, in one transaction),
where PostgreSQL writes optimistically in autocommit. Secret rows are always found by
tenant AND person AND name, version rows by tenant AND the id of a secret found that way:
with no row-level security on SQLite, those filters are the only tenant fence.

No row locks: every transaction begins with BEGIN IMMEDIATE, so it holds SQLite's single
write lock from its first statement, which serialises the writers of a secret (and of
everything else) on every process using the file: a write never loses a race here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import repository_sqlite as audit_sqlite
from ..audit.repository import NewEvent
from ..sqlite_values import loads, now, parse_ts, parse_ts_opt, ts
from .repository import (
    S_COLS,
    SCOPE,
    V_COLS,
    SecretRow,
    VersionRow,
    list_params,
    list_sql,
)
from .rules import read_error

# A secret and one of its versions (the current one when :v is NULL).
_READ = ("SELECT " + ", ".join(f"s.{c.strip()}" for c in S_COLS.split(",")) + ", "
         + ", ".join(f"v.{c.strip()}" for c in V_COLS.split(",")) + " "
         "FROM vault_secrets s LEFT JOIN vault_versions v "
         "ON v.tenant_id = s.tenant_id AND v.secret_id = s.id "
         "AND v.version = COALESCE(:v, s.current_version) "
         "WHERE s.tenant_id = :t AND s.person_id = :p AND s.name = :n")
_LIST = list_sql("substr(name, 1, length(:prefix)) = :prefix", ":all")


def _secret(r: Sequence[Any]) -> SecretRow:
    return SecretRow(id=uuid.UUID(r[0]), name=r[1], current_version=int(r[2]),
                     max_versions=int(r[3]), metadata=loads(r[4]), created_at=parse_ts(r[5]),
                     updated_at=parse_ts(r[6]), deleted_at=parse_ts_opt(r[7]))


def _version(r: Sequence[Any]) -> VersionRow:
    return VersionRow(version=int(r[0]), ciphertext=None if r[1] is None else bytes(r[1]),
                      dek_version=int(r[2]), created_at=parse_ts(r[3]),
                      destroyed_at=parse_ts_opt(r[4]))


async def get_secret(conn: AsyncConnection, t: str, p: str, name: str,
                     lock: bool = False) -> SecretRow | None:
    # `lock` needs nothing: this transaction already holds the database's write lock.
    row = (await conn.execute(text(
        f"SELECT {S_COLS} FROM vault_secrets WHERE {SCOPE} AND name = :n"),
        {"t": t, "p": p, "n": name})).first()
    return _secret(row) if row else None


async def read_audited(conn: AsyncConnection, t: str, p: str, name: str,
                       version: int | None, event: NewEvent
                       ) -> tuple[SecretRow | None, VersionRow | None]:
    """A secret and one of its versions (the current one when `version` is None), and
    the read's audit event (status: the code of `rules.read_error`, or ok; payload
    {"version": the version wanted}), in the caller's transaction."""
    row = (await conn.execute(text(_READ), {"t": t, "p": p, "n": name, "v": version})).first()
    secret = None if row is None else _secret(row[:8])
    stored = None if row is None or row[8] is None else _version(row[8:])
    wanted = version or (secret.current_version if secret else 0)
    error = read_error(name, wanted, secret, stored)
    status = "ok" if error is None else error.code
    await audit_sqlite.append_event(conn, replace(
        event, status=status, payload_json=json.dumps({"version": wanted})))
    if stored is not None and status != "ok":
        stored = replace(stored, ciphertext=None)  # as on PostgreSQL: only for an ok read
    return secret, stored


async def lock_or_create(conn: AsyncConnection, t: str, p: str, name: str,
                         max_versions: int, metadata_json: str) -> tuple[SecretRow, bool]:
    """The secret's row, created empty (version 0) when absent; and whether this call
    created it."""
    new_id = uuid.uuid4()
    at = ts(now(conn))
    row = (await conn.execute(text(
        "INSERT INTO vault_secrets (id, tenant_id, person_id, name, max_versions, metadata, "
        "created_at, updated_at) VALUES (:id, :t, :p, :n, :mv, :m, :now, :now) "
        "ON CONFLICT (tenant_id, person_id, name) DO UPDATE SET name = vault_secrets.name "
        f"RETURNING {S_COLS}"),
        {"id": str(new_id), "t": t, "p": p, "n": name, "mv": max_versions,
         "m": metadata_json, "now": at})).one()
    secret = _secret(row)
    return secret, secret.id == new_id


async def write_version(conn: AsyncConnection, t: str, p: str, secret_id: uuid.UUID,
                        version: int, ciphertext: bytes, dek_version: int,
                        metadata_json: str | None, max_versions: int | None,
                        event: NewEvent) -> SecretRow:
    """Store a new version, point the secret at it (a write also undoes a soft delete),
    delete versions older than the newest `max_versions`, and append `event` to the
    audit chain, all in the caller's transaction."""
    params = {"t": t, "p": p, "s": str(secret_id), "v": version, "c": ciphertext,
              "d": dek_version, "m": metadata_json, "mv": max_versions, "now": ts(now(conn))}
    await conn.execute(text(
        "INSERT INTO vault_versions (tenant_id, secret_id, version, ciphertext, dek_version, "
        "created_at) VALUES (:t, :s, :v, :c, :d, :now)"), params)
    row = (await conn.execute(text(
        "UPDATE vault_secrets SET current_version = :v, updated_at = :now, "
        "deleted_at = NULL, metadata = COALESCE(:m, metadata), "
        "max_versions = COALESCE(:mv, max_versions) "
        f"WHERE {SCOPE} AND id = :s RETURNING {S_COLS}"), params)).one()
    secret = _secret(row)
    await conn.execute(text(
        "DELETE FROM vault_versions WHERE tenant_id = :t AND secret_id = :s "
        "AND version <= :keep_after"), {**params, "keep_after": version - secret.max_versions})
    await audit_sqlite.append_event(conn, event)
    return secret


async def list_versions(conn: AsyncConnection, t: str, secret_id: uuid.UUID) -> list[VersionRow]:
    # The ciphertext column is not selected: metadata never needs it.
    rows = (await conn.execute(text(
        "SELECT version, NULL, dek_version, created_at, destroyed_at FROM vault_versions "
        "WHERE tenant_id = :t AND secret_id = :s ORDER BY version"),
        {"t": t, "s": str(secret_id)})).all()
    return [_version(r) for r in rows]


async def set_deleted(conn: AsyncConnection, t: str, p: str, name: str,
                      deleted: bool) -> SecretRow | None:
    """Soft delete or undelete; keeps the first deletion time on a repeated delete."""
    row = (await conn.execute(text(
        "UPDATE vault_secrets SET deleted_at = CASE WHEN :d THEN COALESCE(deleted_at, :now) "
        f"ELSE NULL END WHERE {SCOPE} AND name = :n RETURNING {S_COLS}"),
        {"t": t, "p": p, "n": name, "d": deleted, "now": ts(now(conn))})).first()
    return _secret(row) if row else None


_DESTROY = ("UPDATE vault_versions SET ciphertext = NULL, "
            "destroyed_at = COALESCE(destroyed_at, :now) "
            "WHERE tenant_id = :t AND secret_id = :s")


async def destroy(conn: AsyncConnection, t: str, secret_id: uuid.UUID,
                  versions: list[int] | None) -> list[int]:
    """Crypto-erase: drop the ciphertext of the given versions (None = all)."""
    params: dict[str, Any] = {"t": t, "s": str(secret_id), "now": ts(now(conn))}
    if versions is None:
        stmt = text(f"{_DESTROY} RETURNING version")
    else:
        stmt = text(f"{_DESTROY} AND version IN :vs RETURNING version").bindparams(
            bindparam("vs", expanding=True))
        params["vs"] = versions
    result = await conn.execute(stmt, params)
    return sorted(int(r[0]) for r in result.all())


async def list_secrets(conn: AsyncConnection, t: str, p: str, prefix: str, after: str,
                       limit: int, include_deleted: bool) -> list[SecretRow]:
    rows = (await conn.execute(text(_LIST), list_params(t, p, prefix, after, limit,
                                                        include_deleted))).all()
    return [_secret(r) for r in rows]
