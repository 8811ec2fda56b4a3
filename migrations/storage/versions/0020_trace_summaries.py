"""Trace summaries: one row per (tenant, person, trace), kept by the span insert, so a page
of the trace list reads `limit` rows instead of aggregating every span.

The summary is the aggregate the list used to compute: first start, last end, span
count, whether any span failed, and the root's name and component. The root is the
first span by (has a parent, start time, span id): a span without a parent wins over any
with one, a later-arriving root replaces an earliest-span stand-in. `root_has_parent`,
`root_start` and `root_span_id` keep the current root's rank so an upsert can compare.
Keyed by person too: the list (and a person's erasure) is per person.

Revision ID: 0020
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE trace_summaries (
        tenant_id       text        NOT NULL,
        person_id       text        NOT NULL DEFAULT '',
        trace_id        text        NOT NULL,
        start_time      timestamptz NOT NULL,
        end_time        timestamptz NOT NULL,
        span_count      bigint      NOT NULL,
        has_error       boolean     NOT NULL,
        root_name       text        NOT NULL,
        root_component  text        NOT NULL,
        root_has_parent boolean     NOT NULL,
        root_start      timestamptz NOT NULL,
        root_span_id    text        NOT NULL,
        PRIMARY KEY (tenant_id, person_id, trace_id)
    )""")
    op.execute("CREATE INDEX trace_summaries_recent ON trace_summaries "
               "(tenant_id, person_id, start_time DESC, trace_id DESC)")
    # Backfill from the stored spans. The owner sees every tenant's rows only while
    # row-level security is not forced on it: for this statement (as in 0011).
    op.execute("ALTER TABLE trace_spans NO FORCE ROW LEVEL SECURITY")
    op.execute("""
    INSERT INTO trace_summaries (tenant_id, person_id, trace_id, start_time, end_time,
        span_count, has_error, root_name, root_component, root_has_parent, root_start,
        root_span_id)
    SELECT s.tenant_id, s.person_id, s.trace_id, min(s.start_time), max(s.end_time),
        count(*), bool_or(s.status = 'error'),
        (array_agg(s.name ORDER BY s.parent_span_id IS NOT NULL, s.start_time,
                   s.span_id))[1],
        (array_agg(s.component ORDER BY s.parent_span_id IS NOT NULL, s.start_time,
                   s.span_id))[1],
        (array_agg(s.parent_span_id IS NOT NULL ORDER BY s.parent_span_id IS NOT NULL,
                   s.start_time, s.span_id))[1],
        (array_agg(s.start_time ORDER BY s.parent_span_id IS NOT NULL, s.start_time,
                   s.span_id))[1],
        (array_agg(s.span_id ORDER BY s.parent_span_id IS NOT NULL, s.start_time,
                   s.span_id))[1]
    FROM trace_spans s GROUP BY s.tenant_id, s.person_id, s.trace_id""")
    op.execute("ALTER TABLE trace_spans FORCE ROW LEVEL SECURITY")
    enable_tenant_rls(op.execute, "trace_summaries")


def downgrade() -> None:
    op.execute("DROP TABLE trace_summaries")
