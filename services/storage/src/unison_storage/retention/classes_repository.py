"""The data classes retention expires, each as the SQL of one bounded batch.

A batch is one statement (threads: three) in a system transaction that takes at most
`batch` expired rows with `FOR UPDATE SKIP LOCKED` and deletes them, returning per row
its tenant, its size (`pg_column_size`) and the payload objects it referenced. A row's
age limit is its tenant's policy (`retention_policies`), else the default. The audit
log is no class: retention never touches it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The policy of the row's tenant for the class, else the default ($2), in days.
_LIMIT = ("now() - make_interval(days => COALESCE((SELECT p.days FROM retention_policies p "
          "WHERE p.tenant_id = t.tenant_id AND p.data_class = $1), $2::integer))")


@dataclass(frozen=True)
class DataClass:
    name: str
    table: str
    age: str  # the column (or expression on `t`) a row's age counts from
    where: str = "true"  # which rows the class covers at all
    objects: str = "ARRAY[]::text[]"  # the payload objects a row references
    cascaded: str = "0"  # the bytes of the records a row's delete cascades to

    @property
    def expired(self) -> str:
        return f"FROM {self.table} t WHERE {self.where} AND {self.age} < {_LIMIT}"

    def batch_sql(self) -> str:
        """$1 class, $2 default days, $3 batch size."""
        return (f"WITH doomed AS MATERIALIZED (SELECT t.ctid AS row_id {self.expired} "
                "LIMIT $3 FOR UPDATE SKIP LOCKED) "
                f"DELETE FROM {self.table} t USING doomed WHERE t.ctid = doomed.row_id "
                f"RETURNING t.tenant_id, pg_column_size(t.*), {self.objects}")

    @property
    def size(self) -> str:
        return f"pg_column_size(t.*) + {self.cascaded}"

    def count_sql(self) -> str:
        """Dry run ($1 class, $2 default days): rows, their bytes, and the objects they
        reference with their bytes (an upper bound of what a run frees: another record
        may still reference one)."""
        return (f"WITH doomed AS (SELECT t.tenant_id, {self.size} AS size, "
                f"{self.objects} AS objs {self.expired}), "
                "refs AS (SELECT DISTINCT d.tenant_id, u.id FROM doomed d, "
                "unnest(d.objs) u(id)) "
                "SELECT (SELECT count(*) FROM doomed), "
                "(SELECT COALESCE(sum(size), 0) FROM doomed), "
                "(SELECT count(*) FROM refs r JOIN objects o "
                " ON o.tenant_id = r.tenant_id AND o.id = r.id), "
                "(SELECT COALESCE(sum(o.size_bytes), 0) FROM refs r JOIN objects o "
                " ON o.tenant_id = r.tenant_id AND o.id = r.id)")


_SPAN_OBJECTS = ("ARRAY(SELECT v ->> '$object' FROM jsonb_each(t.attributes) e(k, v) "
                 "WHERE jsonb_typeof(v) = 'object' AND v ? '$object')")
_THREAD_OBJECTS = (
    "ARRAY(SELECT content_object_id FROM thread_messages m WHERE m.tenant_id = t.tenant_id "
    "AND m.thread_id = t.id AND content_object_id IS NOT NULL "
    "UNION SELECT object_id FROM thread_state_versions s WHERE s.tenant_id = t.tenant_id "
    "AND s.thread_id = t.id AND object_id IS NOT NULL "
    "UNION SELECT object_id FROM thread_artifacts a WHERE a.tenant_id = t.tenant_id "
    "AND a.thread_id = t.id AND object_id IS NOT NULL)")
# A thread's size: its row and every record the delete cascades to.
_THREAD_BYTES = (
    "(SELECT COALESCE(sum(pg_column_size(m.*)), 0) FROM thread_messages m "
    "WHERE m.tenant_id = t.tenant_id AND m.thread_id = t.id) + "
    "(SELECT COALESCE(sum(pg_column_size(s.*)), 0) FROM thread_state_versions s "
    "WHERE s.tenant_id = t.tenant_id AND s.thread_id = t.id) + "
    "(SELECT COALESCE(sum(pg_column_size(a.*)), 0) FROM thread_artifacts a "
    "WHERE a.tenant_id = t.tenant_id AND a.thread_id = t.id)")


@dataclass(frozen=True)
class CascadeClass(DataClass):
    """Rows keyed (tenant_id, id) whose delete cascades: a thread with its messages,
    state versions and artifacts; an evaluation dataset with its items, runs and
    scores."""

    def batch_sql(self) -> str:
        return (f"WITH doomed AS MATERIALIZED (SELECT t.tenant_id, t.id, "
                f"{self.size} AS size, {self.objects} AS objs "
                f"{self.expired} LIMIT $3 FOR UPDATE SKIP LOCKED), "
                f"gone AS (DELETE FROM {self.table} t USING doomed "
                "WHERE t.tenant_id = doomed.tenant_id AND t.id = doomed.id "
                "RETURNING t.tenant_id, t.id) "
                "SELECT d.tenant_id, d.size, d.objs FROM doomed d "
                "JOIN gone g ON g.tenant_id = d.tenant_id AND g.id = d.id")


@dataclass(frozen=True)
class SpanClass(DataClass):
    """Spans, whose traces' summary rows (trace_summaries) follow in the same statement:
    a trace left without spans loses its summary, the others are recomputed from the
    spans that stay (the statement's snapshot still shows the deleted ones: they are
    excluded by key). The count goes down by what was deleted, atomically, so a
    concurrent export's spans still count; times and root come from the statement's
    snapshot, so a span exported into the same trace in the moment its old spans
    expire can be missing from those (a rare race; the span itself is kept)."""

    def batch_sql(self) -> str:
        return (f"WITH doomed AS MATERIALIZED (SELECT t.ctid AS row_id {self.expired} "
                "LIMIT $3 FOR UPDATE SKIP LOCKED), "
                f"gone AS (DELETE FROM {self.table} t USING doomed "
                "WHERE t.ctid = doomed.row_id RETURNING t.tenant_id, t.person_id, "
                f"t.trace_id, t.span_id, pg_column_size(t.*) AS size, {self.objects} AS objs), "
                "hit AS (SELECT tenant_id, person_id, trace_id, count(*) AS c FROM gone "
                "GROUP BY 1, 2, 3), "
                "kept AS (SELECT DISTINCT ON (s.tenant_id, s.person_id, s.trace_id) "
                "s.tenant_id, s.person_id, s.trace_id, "
                "min(s.start_time) OVER w AS s, max(s.end_time) OVER w AS e, "
                "bool_or(s.status = 'error') OVER w AS err, s.name, s.component, "
                "s.parent_span_id IS NOT NULL AS has_parent, s.start_time, s.span_id "
                "FROM trace_spans s JOIN hit h ON h.tenant_id = s.tenant_id "
                "AND h.person_id = s.person_id AND h.trace_id = s.trace_id "
                "WHERE NOT EXISTS (SELECT 1 FROM gone g WHERE g.tenant_id = s.tenant_id "
                "AND g.trace_id = s.trace_id AND g.span_id = s.span_id) "
                "WINDOW w AS (PARTITION BY s.tenant_id, s.person_id, s.trace_id) "
                "ORDER BY s.tenant_id, s.person_id, s.trace_id, "
                "s.parent_span_id IS NOT NULL, s.start_time, s.span_id), "
                "fixed AS (UPDATE trace_summaries u SET start_time = k.s, end_time = k.e, "
                "span_count = u.span_count - h.c, has_error = k.err, root_name = k.name, "
                "root_component = k.component, root_has_parent = k.has_parent, "
                "root_start = k.start_time, root_span_id = k.span_id "
                "FROM kept k JOIN hit h USING (tenant_id, person_id, trace_id) "
                "WHERE u.tenant_id = k.tenant_id AND u.person_id = k.person_id "
                "AND u.trace_id = k.trace_id), "
                "emptied AS (DELETE FROM trace_summaries u USING hit h "
                "WHERE u.tenant_id = h.tenant_id AND u.person_id = h.person_id "
                "AND u.trace_id = h.trace_id AND NOT EXISTS (SELECT 1 FROM kept k "
                "WHERE k.tenant_id = h.tenant_id AND k.person_id = h.person_id "
                "AND k.trace_id = h.trace_id)) "
                "SELECT tenant_id, size, objs FROM gone")


# An evaluation dataset's size: its row, its items, its runs and their scores.
_EVAL_BYTES = (
    "(SELECT COALESCE(sum(pg_column_size(i.*)), 0) FROM eval_items i "
    "WHERE i.tenant_id = t.tenant_id AND i.dataset_id = t.id) + "
    "(SELECT COALESCE(sum(pg_column_size(r.*)), 0) FROM eval_runs r "
    "WHERE r.tenant_id = t.tenant_id AND r.dataset_id = t.id) + "
    "(SELECT COALESCE(sum(pg_column_size(s.*)), 0) FROM eval_scores s JOIN eval_runs r "
    "ON r.tenant_id = s.tenant_id AND r.id = s.run_id "
    "WHERE r.tenant_id = t.tenant_id AND r.dataset_id = t.id)")
# A dataset ages from its newest run (or its creation when it has none).
_EVAL_AGE = ("GREATEST(t.created_at, (SELECT max(r.started_at) FROM eval_runs r "
             "WHERE r.tenant_id = t.tenant_id AND r.dataset_id = t.id))")


CLASSES: dict[str, DataClass] = {c.name: c for c in (
    SpanClass("traces", "trace_spans", "t.start_time", objects=_SPAN_OBJECTS),
    # A thread ages from its last activity (a message, a state write or a change moves
    # `updated_at`).
    CascadeClass("threads", "threads", "t.updated_at", objects=_THREAD_OBJECTS,
                 cascaded=_THREAD_BYTES),
    CascadeClass("evals", "eval_datasets", _EVAL_AGE, cascaded=_EVAL_BYTES),
    DataClass("workflows", "workflows", "t.finished_at",
              where="t.status IN ('resumed', 'rejected', 'cancelled')",
              objects="ARRAY(SELECT t.context_object_id WHERE t.context_object_id "
                      "IS NOT NULL)"),
    DataClass("metrics", "agent_metrics", "t.ts"),
    DataClass("memory", "memory_entries", "t.created_at"),
)}
