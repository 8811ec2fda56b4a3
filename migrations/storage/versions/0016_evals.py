"""Evaluations: datasets (versioned, frozen once a run uses them) with items, runs of a
model over a dataset, and scores per run, item and metric.

Evaluation data belongs to the tenant (a household's datasets are shared by its
persons); each row records the person who made it. `(name, version)` is unique per
tenant.

Revision ID: 0016
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE eval_datasets (
        tenant_id   text        NOT NULL,
        id          text        NOT NULL,
        name        text        NOT NULL,
        version     integer     NOT NULL,
        description text,
        metadata    jsonb       NOT NULL DEFAULT '{}',
        frozen      boolean     NOT NULL DEFAULT false,
        item_count  integer     NOT NULL DEFAULT 0,
        created_by  text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, name, version)
    )""")
    op.execute("""
    CREATE TABLE eval_items (
        tenant_id  text        NOT NULL,
        dataset_id text        NOT NULL,
        id         text        NOT NULL,
        seq        integer     NOT NULL,
        input      jsonb       NOT NULL,
        expected   jsonb,
        metadata   jsonb       NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, dataset_id, id),
        UNIQUE (tenant_id, dataset_id, seq),
        FOREIGN KEY (tenant_id, dataset_id) REFERENCES eval_datasets (tenant_id, id)
            ON DELETE CASCADE
    )""")
    op.execute("""
    CREATE TABLE eval_runs (
        tenant_id    text        NOT NULL,
        id           text        NOT NULL,
        dataset_id   text        NOT NULL,
        model_name   text        NOT NULL,
        config       jsonb       NOT NULL DEFAULT '{}',
        status       text        NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'failed')),
        summary      jsonb,
        created_by   text        NOT NULL,
        started_at   timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, dataset_id) REFERENCES eval_datasets (tenant_id, id)
            ON DELETE CASCADE
    )""")
    op.execute("CREATE INDEX eval_runs_dataset ON eval_runs (tenant_id, dataset_id, started_at)")
    op.execute("""
    CREATE TABLE eval_scores (
        tenant_id  text        NOT NULL,
        run_id     text        NOT NULL,
        item_id    text        NOT NULL,
        metric     text        NOT NULL,
        scorer     text        NOT NULL DEFAULT '',
        value      double precision NOT NULL,
        reason     text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, run_id, item_id, metric, scorer),
        FOREIGN KEY (tenant_id, run_id) REFERENCES eval_runs (tenant_id, id)
            ON DELETE CASCADE
    )""")
    op.execute("CREATE INDEX eval_scores_metric ON eval_scores (tenant_id, run_id, metric)")
    for table in ("eval_datasets", "eval_items", "eval_runs", "eval_scores"):
        enable_tenant_rls(op.execute, table)


def downgrade() -> None:
    for table in ("eval_scores", "eval_runs", "eval_items", "eval_datasets"):
        op.execute(f"DROP TABLE {table}")
