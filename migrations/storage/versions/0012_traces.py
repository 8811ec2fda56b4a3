"""Traces: OpenTelemetry spans per tenant and person.

One row per span, keyed by (tenant, trace, span) so a retried export stores nothing
twice. Attribute values above the inline limit live in objects (the row keeps a
reference), like large message content.

Revision ID: 0012
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE trace_spans (
        tenant_id      text        NOT NULL,
        person_id      text        NOT NULL DEFAULT '',
        trace_id       text        NOT NULL,
        span_id        text        NOT NULL,
        parent_span_id text,
        name           text        NOT NULL,
        kind           text        NOT NULL,
        component      text        NOT NULL,
        start_time     timestamptz NOT NULL,
        end_time       timestamptz NOT NULL,
        duration_ms    double precision NOT NULL,
        status         text        NOT NULL,
        status_message text,
        attributes     jsonb       NOT NULL DEFAULT '{}',
        events         jsonb       NOT NULL DEFAULT '[]',
        resource       jsonb       NOT NULL DEFAULT '{}',
        links          jsonb       NOT NULL DEFAULT '[]',
        created_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, trace_id, span_id)
    )""")
    op.execute("CREATE INDEX trace_spans_recent ON trace_spans "
               "(tenant_id, person_id, start_time DESC)")
    op.execute("CREATE INDEX trace_spans_component ON trace_spans "
               "(tenant_id, person_id, component, start_time DESC)")
    op.execute("CREATE INDEX trace_spans_attributes ON trace_spans USING gin "
               "(attributes jsonb_path_ops)")
    enable_tenant_rls(op.execute, "trace_spans")


def downgrade() -> None:
    op.execute("DROP TABLE trace_spans")
