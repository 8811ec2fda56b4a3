"""SQL for vault_secrets and vault_versions. Secret rows are always found by tenant AND
person AND name; version rows by tenant AND the id of a secret found that way.

Statements are written once with :name parameters
and run on PostgreSQL through the asyncpg connection (`Positional`), not SQLAlchemy's
execution layer, which costs several times more per statement (docs/performance.md).

The hot paths are single statements in autocommit that append their own audit event:
a read is one (`read_audited`), a write two (`get_secret`, then `write_next` or
`create`, which change nothing if another writer got there first)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from unison_shared.database import StatementConnection, fetch, fetchrow
from unison_shared.errors import Gone, NotFound
from unison_shared.sqlparams import Positional

from ..audit.repository import NewEvent


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


_LIST = Positional.compile(list_sql("starts_with(name, :prefix)", "CAST(:all AS boolean)"))


_GET_SQL = f"SELECT {S_COLS} FROM vault_secrets WHERE {SCOPE} AND name = :n"
_GET = Positional.compile(_GET_SQL)
_GET_LOCKED = Positional.compile(_GET_SQL + " FOR UPDATE")


async def get_secret(conn: StatementConnection, t: str, p: str, name: str,
                     lock: bool = False) -> SecretRow | None:
    row = await fetchrow(conn, _GET_LOCKED if lock else _GET, {"t": t, "p": p, "n": name})
    return SecretRow(*row) if row else None


# The audit arguments of a statement that appends its own event (`audit_append`, audit
# migration 0007): called once, for the one row the statement's own work returned, so
# the work and its event commit together, in autocommit as in a transaction.
_APPEND = ("audit_append(:t, :p, NULL, :a_actor, :a_action, :a_target, NULL, {status}, "
           ":a_person, {payload}) AS a")
_UPD_COLS = ", ".join(f"upd.{c.strip()}" for c in S_COLS.split(","))


def _event_params(event: NewEvent) -> dict[str, Any]:
    return {"a_actor": event.actor, "a_action": event.action, "a_target": event.target,
            "a_status": event.status, "a_person": event.person_id,
            "a_payload": event.payload_json}


# One statement, one row whatever it finds: the secret, the wanted version (:v, or the
# current one), the read's outcome as an audit status, and the event appended with that
# status. The ciphertext is only returned with the status 'ok'.
_READ_AUDITED = Positional.compile(f"""
    WITH f AS (
        SELECT s.id, s.name, s.current_version, s.max_versions, s.metadata, s.created_at,
               s.updated_at, s.deleted_at, v.version, v.ciphertext, v.dek_version,
               v.created_at AS v_created_at, v.destroyed_at,
               COALESCE(CAST(:v AS integer), s.current_version, 0) AS wanted,
               CASE WHEN s.id IS NULL THEN CAST(:nf AS text)
                    WHEN s.deleted_at IS NOT NULL THEN CAST(:gone AS text)
                    WHEN v.version IS NULL THEN CAST(:nf AS text)
                    WHEN v.ciphertext IS NULL THEN CAST(:gone AS text)
                    ELSE 'ok' END AS status
        FROM (VALUES (1)) AS one (x)
        LEFT JOIN vault_secrets s ON s.tenant_id = :t AND s.person_id = :p AND s.name = :n
        LEFT JOIN vault_versions v ON v.tenant_id = s.tenant_id AND v.secret_id = s.id
            AND v.version = COALESCE(CAST(:v AS integer), s.current_version))
    SELECT f.id, f.name, f.current_version, f.max_versions, f.metadata, f.created_at,
           f.updated_at, f.deleted_at, f.version,
           CASE WHEN f.status = 'ok' THEN f.ciphertext END, f.dek_version, f.v_created_at,
           f.destroyed_at
    FROM f CROSS JOIN LATERAL {_APPEND.format(
        status="f.status", payload="jsonb_build_object('version', f.wanted)")}""")


async def read_audited(conn: StatementConnection, t: str, p: str, name: str,
                       version: int | None, event: NewEvent
                       ) -> tuple[SecretRow | None, VersionRow | None]:
    """A secret and one of its versions (the current one when `version` is None), and
    the read's audit event, in ONE round trip. The event is `event` with the status
    `rules.read_error` gives (computed here in SQL) and the payload {"version": the version
    wanted}; `event`'s own status and payload are not used. The rows come back only if
    the event was appended (an append error fails the statement)."""
    row = await fetchrow(conn, _READ_AUDITED, {
        "t": t, "p": p, "n": name, "v": version, "nf": NotFound.code, "gone": Gone.code,
        **_event_params(event)})
    assert row is not None  # one row whatever the joins found
    if row[0] is None:
        return None, None
    return SecretRow(*row[:8]), VersionRow(*row[8:]) if row[8] is not None else None


# A write of version :n + 1 that happens only if the secret is still at version :n: the
# UPDATE's WHERE is re-checked on the newest row after waiting for a concurrent writer,
# so of two writers that read version :n, one matches and the other changes nothing.
# Everything else hangs off the UPDATE's RETURNING, in one atomic statement: the version
# row, the pruning (same snapshot: it never sees, so never removes, the new version) and
# the audit event.
_WRITE_NEXT = Positional.compile(f"""
    WITH upd AS (
        UPDATE vault_secrets SET current_version = CAST(:cur AS integer) + 1,
            updated_at = now(),
            deleted_at = NULL, metadata = COALESCE(CAST(:m AS jsonb), metadata),
            max_versions = COALESCE(CAST(:mv AS integer), max_versions)
        WHERE {SCOPE} AND id = :s AND current_version = CAST(:cur AS integer)
        RETURNING {S_COLS}),
    ins AS (
        INSERT INTO vault_versions (tenant_id, secret_id, version, ciphertext, dek_version)
        SELECT CAST(:t AS text), upd.id, upd.current_version, CAST(:c AS bytea),
               CAST(:d AS integer) FROM upd),
    pruned AS (
        DELETE FROM vault_versions WHERE tenant_id = :t AND secret_id = :s
            AND version <= (SELECT current_version - max_versions FROM upd))
    SELECT {_UPD_COLS} FROM upd CROSS JOIN LATERAL {_APPEND.format(
        status=":a_status", payload="CAST(:a_payload AS jsonb)")}""")


async def write_next(conn: StatementConnection, t: str, p: str, secret_id: uuid.UUID,
                     current: int, ciphertext: bytes, dek_version: int,
                     metadata_json: str | None, max_versions: int | None,
                     event: NewEvent) -> SecretRow | None:
    """Store version `current` + 1 if the secret is still at `current`, point the secret
    at it (a write also undoes a soft delete; metadata and max_versions change only when
    given), prune versions older than the newest max_versions, and append `event`, in
    one statement; None (and nothing changed) when another write moved the version, or
    the secret is gone."""
    row = await fetchrow(conn, _WRITE_NEXT, {
        "t": t, "p": p, "s": secret_id, "cur": current, "c": ciphertext, "d": dek_version,
        "m": metadata_json, "mv": max_versions, **_event_params(event)})
    return SecretRow(*row) if row else None


# A new secret at version 1 with its first version and its audit event, or nothing when
# the name exists (a concurrent creator that commits first wins; ON CONFLICT waits for it).
_CREATE = Positional.compile(f"""
    WITH upd AS (
        INSERT INTO vault_secrets (id, tenant_id, person_id, name, current_version,
                                   max_versions, metadata)
        VALUES (:s, :t, :p, :n, 1, :mv, CAST(:m AS jsonb))
        ON CONFLICT (tenant_id, person_id, name) DO NOTHING RETURNING {S_COLS}),
    ins AS (
        INSERT INTO vault_versions (tenant_id, secret_id, version, ciphertext, dek_version)
        SELECT CAST(:t AS text), upd.id, 1, CAST(:c AS bytea), CAST(:d AS integer) FROM upd)
    SELECT {_UPD_COLS} FROM upd CROSS JOIN LATERAL {_APPEND.format(
        status=":a_status", payload="CAST(:a_payload AS jsonb)")}""")


async def create(conn: StatementConnection, t: str, p: str, secret_id: uuid.UUID, name: str,
                 ciphertext: bytes, dek_version: int, metadata_json: str, max_versions: int,
                 event: NewEvent) -> SecretRow | None:
    """Create the secret `name` (id `secret_id`, chosen by the caller: its first version
    was sealed for it) at version 1 and append `event`, in one statement; None (and
    nothing changed) when the name already exists."""
    row = await fetchrow(conn, _CREATE, {
        "s": secret_id, "t": t, "p": p, "n": name, "c": ciphertext, "d": dek_version,
        "m": metadata_json, "mv": max_versions, **_event_params(event)})
    return SecretRow(*row) if row else None


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
