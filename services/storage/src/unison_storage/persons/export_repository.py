"""SQL of a person's export: one statement per domain, every value a parameter (the
tenant $1, the person $2), read page by page through a cursor in the export's one
read-only transaction (a consistent snapshot)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from .repository import KV_OF_PERSON

PAGE = 200

_P = "tenant_id = $1 AND person_id = $2"
# A payload object's blob, joined to the record that names it.
_OBJ = "LEFT JOIN objects o ON o.tenant_id = {t}.tenant_id AND o.id = {t}.{col}"

DOMAIN_SQL: dict[str, str] = {
    "memory": "SELECT id, session_id, key, keyspace, payload, created_at, expires_at "
              f"FROM memory_entries WHERE {_P} ORDER BY id",
    "vault": "SELECT s.id, s.name, v.version, s.current_version, s.max_versions, s.metadata, "
             "s.created_at, s.updated_at, s.deleted_at, v.created_at AS version_created_at, "
             "v.destroyed_at, v.ciphertext, v.dek_version FROM vault_secrets s "
             "JOIN vault_versions v ON v.tenant_id = s.tenant_id AND v.secret_id = s.id "
             "WHERE s.tenant_id = $1 AND s.person_id = $2 ORDER BY s.name, v.version",
    "kv": "SELECT person_id, namespace, key, value, version, expires_at, created_at, "
          f"updated_at, value_enc, dek_version FROM kv_records WHERE {KV_OF_PERSON} "
          "ORDER BY person_id, namespace, key",
    # Objects that hold a sealed state or workflow context are exported opened, with
    # their record (state, workflows), not as ciphertext.
    "objects": "SELECT o.id, o.filename, o.content_type, o.size_bytes, o.sha256, o.labels, "
               "o.created_at, o.storage_key, o.size_bytes AS object_bytes FROM objects o "
               "WHERE o.tenant_id = $1 AND o.person_id = $2 AND NOT EXISTS (SELECT 1 FROM "
               "thread_state_versions s WHERE s.tenant_id = o.tenant_id AND s.object_id = o.id) "
               "AND NOT EXISTS (SELECT 1 FROM workflows w WHERE w.tenant_id = o.tenant_id "
               "AND w.context_object_id = o.id) ORDER BY o.id",
    "threads": "SELECT id, agent_name, title, status, metadata, message_count, last_seq, "
               f"state_version, created_at, updated_at FROM threads WHERE {_P} ORDER BY id",
    "messages": "SELECT m.thread_id, m.seq, m.id, m.role, m.content, m.content_object_id, "
                "m.content_bytes, m.parent_message_id, m.metadata, m.created_at, "
                "o.storage_key, o.size_bytes AS object_bytes FROM thread_messages m "
                f"{_OBJ.format(t='m', col='content_object_id')} "
                "WHERE m.tenant_id = $1 AND m.person_id = $2 ORDER BY m.thread_id, m.seq",
    "state": "SELECT s.thread_id, s.version, s.size_bytes, s.created_at, s.ciphertext, "
             "s.dek_version, o.storage_key, o.size_bytes AS object_bytes "
             "FROM thread_state_versions s "
             f"{_OBJ.format(t='s', col='object_id')} "
             "WHERE s.tenant_id = $1 AND s.person_id = $2 ORDER BY s.thread_id, s.version",
    "artifacts": "SELECT a.id, a.thread_id, a.name, a.type, a.content_type, a.size_bytes, "
                 "a.path, a.sha256, a.object_id, a.metadata, a.created_at, o.storage_key, "
                 "o.size_bytes AS object_bytes "
                 f"FROM thread_artifacts a {_OBJ.format(t='a', col='object_id')} "
                 "WHERE a.tenant_id = $1 AND a.person_id = $2 ORDER BY a.id",
    "metrics": "SELECT id, entity_type, entity_name, thread_id, metric_name, value, labels, "
               f"ts FROM agent_metrics WHERE {_P} ORDER BY ts, id",
    "traces": "SELECT trace_id, span_id, parent_span_id, name, kind, component, start_time, "
              "end_time, duration_ms, status, status_message, attributes, events, resource, "
              f"links, created_at FROM trace_spans WHERE {_P} ORDER BY trace_id, span_id",
    "workflows": "SELECT w.id, w.workflow_name, w.current_step, w.status, w.mode, "
                 "w.suspend_reason, w.metadata, w.suspension_id, w.suspensions, "
                 "w.context_bytes, w.timeout_at, w.timed_out, w.forced, w.created_at, "
                 "w.suspended_at, w.resumable_at, w.finished_at, w.updated_at, "
                 "(SELECT coalesce(jsonb_agg(jsonb_build_object('position', c.position, "
                 "'kind', c.kind, 'spec', c.spec, 'satisfied_at', c.satisfied_at, "
                 "'detail', c.detail, 'closed', c.closed) ORDER BY c.position), '[]') "
                 "FROM workflow_conditions c WHERE c.tenant_id = w.tenant_id "
                 "AND c.person_id = w.person_id AND c.workflow_id = w.id) AS conditions, "
                 "w.context_enc, w.dek_version, o.storage_key, "
                 "o.size_bytes AS object_bytes FROM workflows w "
                 f"{_OBJ.format(t='w', col='context_object_id')} "
                 "WHERE w.tenant_id = $1 AND w.person_id = $2 ORDER BY w.id",
    "vector_collections": "SELECT name, dimension, distance, hnsw_m, hnsw_ef_construction, "
                          "metadata, created_by, created_at FROM vector_collections "
                          "WHERE tenant_id = $1 AND owner_person = $2 ORDER BY name",
    "vector_documents": "SELECT c.name AS collection, d.id, d.embedding::text AS embedding, "
                        "d.text, d.metadata, d.created_at, d.updated_at "
                        "FROM vector_documents d JOIN vector_collections c "
                        "ON c.tenant_id = d.tenant_id AND c.id = d.collection_id "
                        "WHERE c.tenant_id = $1 AND c.owner_person = $2 ORDER BY c.name, d.id",
    "files": "SELECT f.path, f.object_id, f.created_at, f.updated_at, o.content_type, "
             "o.size_bytes, o.sha256, o.storage_key, o.size_bytes AS object_bytes "
             "FROM files f "
             "JOIN objects o ON o.tenant_id = f.tenant_id AND o.id = f.object_id "
             "WHERE f.tenant_id = $1 AND f.person_id = $2 ORDER BY f.path",
    "eval_datasets": "SELECT id, name, version, description, metadata, frozen, item_count, "
                     "created_at FROM eval_datasets WHERE tenant_id = $1 AND created_by = $2 "
                     "ORDER BY name, version",
    "eval_runs": "SELECT id, dataset_id, model_name, config, status, summary, started_at, "
                 "completed_at FROM eval_runs WHERE tenant_id = $1 AND created_by = $2 "
                 "ORDER BY started_at, id",
}


async def snapshot(conn: asyncpg.Connection) -> None:
    """The export's transaction sees one snapshot and writes nothing (the first
    statement of the transaction)."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


async def rows(conn: asyncpg.Connection, domain: str, tenant_id: str,
               person_id: str) -> AsyncIterator[dict[str, Any]]:
    """The domain's rows of the person, a page at a time."""
    cursor = await conn.cursor(DOMAIN_SQL[domain], tenant_id, person_id)
    while True:
        page = await cursor.fetch(PAGE)
        for row in page:
            yield dict(row.items())
        if len(page) < PAGE:
            return
