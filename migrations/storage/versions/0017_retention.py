"""Retention policies per tenant and data class; the workflow triggers look before they
leap.

`retention_policies` holds a tenant's overrides of the defaults in settings (days to keep
per data class). The triggers of 0014 now test for an open condition with one index
probe (EXISTS on the partial index) before they call `workflow_match`: a write no
workflow waits for no longer pays for the function call, the UPDATE and the jsonb it
built (EXPLAIN ANALYZE of a KV upsert: the trigger's time about halves).

Revision ID: 0017
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_OPEN = ("EXISTS (SELECT 1 FROM workflow_conditions WHERE tenant_id = NEW.tenant_id "
         "AND person_id = {person} AND kind = '{kind}' AND target = {target} "
         "AND target_key = {key} AND satisfied_at IS NULL AND NOT closed)")

_KV = f"""
CREATE OR REPLACE FUNCTION workflow_on_kv_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {_OPEN.format(person="NEW.person_id", kind="kv_written", target="NEW.namespace",
                   key="NEW.key")} THEN
    PERFORM workflow_match(NEW.tenant_id, NEW.person_id, 'kv_written', NEW.namespace,
                           NEW.key, jsonb_build_object('version', NEW.version));
  END IF;
  RETURN NULL;
END $$"""

_OBJECT = f"""
CREATE OR REPLACE FUNCTION workflow_on_object_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {_OPEN.format(person="NEW.person_id", kind="object_stored", target="NEW.id",
                   key="''")} THEN
    PERFORM workflow_match(NEW.tenant_id, NEW.person_id, 'object_stored', NEW.id, '',
                           jsonb_build_object('sha256', NEW.sha256,
                                              'size_bytes', NEW.size_bytes));
  END IF;
  RETURN NULL;
END $$"""

# A vault version names its secret by id: only when the tenant has an open vault
# condition at all is the secret's person and name looked up.
_VAULT = """
CREATE OR REPLACE FUNCTION workflow_on_vault_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM workflow_conditions WHERE tenant_id = NEW.tenant_id
                 AND kind = 'vault_secret_written' AND satisfied_at IS NULL AND NOT closed)
  THEN
    RETURN NULL;
  END IF;
  SELECT person_id, name INTO s FROM vault_secrets WHERE id = NEW.secret_id;
  IF FOUND THEN
    PERFORM workflow_match(NEW.tenant_id, s.person_id, 'vault_secret_written', s.name, '',
                           jsonb_build_object('version', NEW.version));
  END IF;
  RETURN NULL;
END $$"""


def upgrade() -> None:
    op.execute("""
    CREATE TABLE retention_policies (
        tenant_id  text        NOT NULL,
        data_class text        NOT NULL,
        days       integer     NOT NULL CHECK (days >= 1),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, data_class)
    )""")
    enable_tenant_rls(op.execute, "retention_policies")
    for statement in (_KV, _OBJECT, _VAULT):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE retention_policies")
