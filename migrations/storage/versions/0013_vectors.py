"""Vector search: collections and documents on pgvector, in the storage database.

The `vector` extension is not a trusted extension, so the owner cannot create it: the
deployment creates it as a superuser where it creates the roles (`make up` and the test
fixtures do, devstack/postgres.py `ensure_extensions`); this migration only checks it is
there and says what to do when it is not.

One `vector_documents` table holds every collection's documents, with an `embedding`
column of type `vector` without a dimension. Each collection gets its own partial HNSW
index on the expression `embedding::vector(<dim>)` with its distance's operator class,
restricted to `WHERE collection_id = <id>`. So a collection's index holds only its own
documents: a tenant's search walks a graph of its own vectors, never one shared with
the other tenants, which a global index would make it filter through (and lose recall
on a small tenant). The indexes are made and dropped by SECURITY DEFINER functions (the
runtime role owns nothing), which act only on a collection of the session's tenant.

Revision ID: 0013
"""

from alembic import op

from unison_shared.migration_helpers import RUNTIME_ROLE, enable_tenant_rls, sql_identifier

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_REQUIRE_VECTOR = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    RAISE EXCEPTION 'the vector extension (pgvector) is missing: as a superuser, run '
      'CREATE EXTENSION vector in this database first (docs/storage.md, Security)';
  END IF;
END $$"""

_INDEX_FNS = """
CREATE FUNCTION vector_collection_index(p_collection bigint, p_create boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c record;
    ops text;
BEGIN
    -- Row-level security (forced for the owner too) shows only the session's tenant.
    SELECT dimension, distance, hnsw_m, hnsw_ef_construction INTO c
    FROM vector_collections
    WHERE id = p_collection AND tenant_id = current_setting('app.tenant_id', true);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'vector_collection_index: no collection % in the session''s tenant',
            p_collection USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT p_create THEN
        EXECUTE format('DROP INDEX IF EXISTS %I', 'vector_documents_hnsw_' || p_collection);
        RETURN;
    END IF;
    ops := CASE c.distance WHEN 'cosine' THEN 'vector_cosine_ops'
                           WHEN 'l2' THEN 'vector_l2_ops' ELSE 'vector_ip_ops' END;
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON vector_documents USING hnsw '
        '((embedding::vector(%s)) %s) WITH (m = %s, ef_construction = %s) '
        'WHERE collection_id = %s',
        'vector_documents_hnsw_' || p_collection, c.dimension, ops, c.hnsw_m,
        c.hnsw_ef_construction, p_collection);
END
$$"""


def upgrade() -> None:
    op.execute(_REQUIRE_VECTOR)
    op.execute("""
    CREATE TABLE vector_collections (
        tenant_id            text        NOT NULL,
        owner_person         text        NOT NULL,
        name                 text        NOT NULL,
        id                   bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
        dimension            integer     NOT NULL CHECK (dimension BETWEEN 1 AND 2000),
        distance             text        NOT NULL
                             CHECK (distance IN ('cosine', 'l2', 'inner_product')),
        hnsw_m               integer     NOT NULL,
        hnsw_ef_construction integer     NOT NULL,
        metadata             jsonb       NOT NULL DEFAULT '{}',
        created_by           text        NOT NULL,
        created_at           timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, owner_person, name)
    )""")
    op.execute("""
    CREATE TABLE vector_documents (
        tenant_id     text        NOT NULL,
        collection_id bigint      NOT NULL
                      REFERENCES vector_collections (id) ON DELETE CASCADE,
        id            text        NOT NULL,
        embedding     vector      NOT NULL,
        text          text,
        metadata      jsonb       NOT NULL DEFAULT '{}',
        tsv           tsvector    GENERATED ALWAYS AS
                                  (to_tsvector('simple', coalesce(text, ''))) STORED,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, collection_id, id)
    )""")
    op.execute("CREATE INDEX vector_documents_tsv ON vector_documents USING gin (tsv)")
    op.execute("CREATE INDEX vector_documents_metadata ON vector_documents "
               "USING gin (metadata jsonb_path_ops)")
    enable_tenant_rls(op.execute, "vector_collections")
    enable_tenant_rls(op.execute, "vector_documents")
    op.execute(_INDEX_FNS)
    op.execute("REVOKE ALL ON FUNCTION vector_collection_index(bigint, boolean) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION vector_collection_index(bigint, boolean) "
               f"TO {sql_identifier(RUNTIME_ROLE)}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS vector_collection_index(bigint, boolean)")
    op.execute("DROP TABLE IF EXISTS vector_documents")
    op.execute("DROP TABLE IF EXISTS vector_collections")
