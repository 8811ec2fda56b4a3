"""Suspended workflows: a workflow paused mid-way, its encrypted context and the
conditions that make it resumable.

Conditions bound to the platform's own writes (`vault_secret_written`, `object_stored`,
`kv_written`) are met by triggers on vault_versions, objects and kv_records, in the
transaction of the write: the trigger runs as the writing session (its role, its tenant
scope) and only probes a partial index of the conditions still open, so a write that
no workflow waits for pays one index probe. `workflow_refresh` locks the workflow row
before it looks at the conditions (each statement of a plpgsql function takes a fresh
snapshot), so two writes meeting two conditions of one workflow at the same moment
cannot both miss the other's: the second waits for the first's lock and sees its row.

Revision ID: 0014
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_REFRESH = """
CREATE FUNCTION workflow_refresh(p_tenant text, p_person text, p_id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  w record;
  ready boolean;
BEGIN
  SELECT status, mode INTO w FROM workflows
   WHERE tenant_id = p_tenant AND person_id = p_person AND id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF w.status <> 'suspended' THEN
    RETURN w.status;
  END IF;
  IF w.mode = 'any' THEN
    ready := EXISTS (SELECT 1 FROM workflow_conditions c WHERE c.tenant_id = p_tenant
                       AND c.person_id = p_person AND c.workflow_id = p_id
                       AND c.satisfied_at IS NOT NULL)
             OR NOT EXISTS (SELECT 1 FROM workflow_conditions c WHERE c.tenant_id = p_tenant
                              AND c.person_id = p_person AND c.workflow_id = p_id);
  ELSE
    ready := NOT EXISTS (SELECT 1 FROM workflow_conditions c WHERE c.tenant_id = p_tenant
                           AND c.person_id = p_person AND c.workflow_id = p_id
                           AND c.satisfied_at IS NULL);
  END IF;
  IF NOT ready THEN
    RETURN 'suspended';
  END IF;
  UPDATE workflows SET status = 'resumable', resumable_at = clock_timestamp(),
                       updated_at = clock_timestamp()
   WHERE tenant_id = p_tenant AND person_id = p_person AND id = p_id;
  RETURN 'resumable';
END $$"""

_MATCH = """
CREATE FUNCTION workflow_match(p_tenant text, p_person text, p_kind text, p_target text,
                               p_key text, p_detail jsonb) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
  wf text;
BEGIN
  WITH hit AS (
    UPDATE workflow_conditions SET satisfied_at = clock_timestamp(), detail = p_detail
     WHERE tenant_id = p_tenant AND person_id = p_person AND kind = p_kind
       AND target = p_target AND target_key = p_key
       AND satisfied_at IS NULL AND NOT closed
    RETURNING workflow_id)
  SELECT array_agg(DISTINCT workflow_id ORDER BY workflow_id) INTO ids FROM hit;
  IF ids IS NULL THEN
    RETURN '{}';
  END IF;
  FOREACH wf IN ARRAY ids LOOP  -- in id order: concurrent matches lock alike
    PERFORM workflow_refresh(p_tenant, p_person, wf);
  END LOOP;
  RETURN ids;
END $$"""

_TRIGGERS = ["""
CREATE FUNCTION workflow_on_kv_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM workflow_match(NEW.tenant_id, NEW.person_id, 'kv_written', NEW.namespace,
                         NEW.key, jsonb_build_object('version', NEW.version));
  RETURN NULL;
END $$""", """
CREATE TRIGGER workflow_conditions AFTER INSERT OR UPDATE ON kv_records
  FOR EACH ROW EXECUTE FUNCTION workflow_on_kv_write()""", """
CREATE FUNCTION workflow_on_object_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM workflow_match(NEW.tenant_id, NEW.person_id, 'object_stored', NEW.id, '',
                         jsonb_build_object('sha256', NEW.sha256, 'size_bytes', NEW.size_bytes));
  RETURN NULL;
END $$""", """
CREATE TRIGGER workflow_conditions AFTER INSERT OR UPDATE OF sha256, storage_key ON objects
  FOR EACH ROW EXECUTE FUNCTION workflow_on_object_stored()""", """
CREATE FUNCTION workflow_on_vault_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  SELECT person_id, name INTO s FROM vault_secrets WHERE id = NEW.secret_id;
  IF FOUND THEN
    PERFORM workflow_match(NEW.tenant_id, s.person_id, 'vault_secret_written', s.name, '',
                           jsonb_build_object('version', NEW.version));
  END IF;
  RETURN NULL;
END $$""", """
CREATE TRIGGER workflow_conditions AFTER INSERT ON vault_versions
  FOR EACH ROW EXECUTE FUNCTION workflow_on_vault_version()"""]


def upgrade() -> None:
    op.execute("""
    CREATE TABLE workflows (
        tenant_id      text        NOT NULL,
        person_id      text        NOT NULL DEFAULT '',
        id             text        NOT NULL,
        workflow_name  text        NOT NULL,
        current_step   text        NOT NULL,
        status         text        NOT NULL CHECK (status IN ('suspended', 'resumable',
                                   'resumed', 'rejected', 'cancelled')),
        mode           text        NOT NULL CHECK (mode IN ('all', 'any')),
        suspend_reason jsonb       NOT NULL,
        metadata       jsonb       NOT NULL DEFAULT '{}',
        suspension_id  uuid        NOT NULL,
        suspensions    integer     NOT NULL DEFAULT 1,
        dek_version    integer     NOT NULL,
        context_enc    bytea       NOT NULL,
        context_bytes  integer     NOT NULL,
        timeout_at     timestamptz,
        timed_out      boolean     NOT NULL DEFAULT false,
        forced         boolean     NOT NULL DEFAULT false,
        created_at     timestamptz NOT NULL DEFAULT now(),
        suspended_at   timestamptz NOT NULL DEFAULT now(),
        resumable_at   timestamptz,
        finished_at    timestamptz,
        updated_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, id)
    )""")
    op.execute("COMMENT ON COLUMN workflows.context_enc IS 'AES-256-GCM under the tenant "
               "data key dek_version; AAD = tenant, person, workflow, suspension'")
    op.execute("CREATE INDEX workflows_list ON workflows "
               "(tenant_id, person_id, suspended_at DESC, id DESC)")
    op.execute("CREATE INDEX workflows_timeout ON workflows (timeout_at) "
               "WHERE status = 'suspended' AND timeout_at IS NOT NULL")
    op.execute("CREATE INDEX workflows_finished ON workflows (finished_at) "
               "WHERE finished_at IS NOT NULL")
    enable_tenant_rls(op.execute, "workflows")
    op.execute("""
    CREATE TABLE workflow_conditions (
        tenant_id    text        NOT NULL,
        person_id    text        NOT NULL DEFAULT '',
        workflow_id  text        NOT NULL,
        position     integer     NOT NULL,
        kind         text        NOT NULL,
        target       text        NOT NULL DEFAULT '',
        target_key   text        NOT NULL DEFAULT '',
        due_at       timestamptz,
        spec         jsonb       NOT NULL,
        satisfied_at timestamptz,
        detail       jsonb,
        closed       boolean     NOT NULL DEFAULT false,
        PRIMARY KEY (tenant_id, person_id, workflow_id, position),
        FOREIGN KEY (tenant_id, person_id, workflow_id)
            REFERENCES workflows (tenant_id, person_id, id) ON DELETE CASCADE
    )""")
    # The triggers' probe: only conditions still waiting are in it (usually few).
    op.execute("CREATE INDEX workflow_conditions_open ON workflow_conditions "
               "(tenant_id, person_id, kind, target, target_key) "
               "WHERE satisfied_at IS NULL AND NOT closed")
    op.execute("CREATE INDEX workflow_conditions_timers ON workflow_conditions (due_at) "
               "WHERE kind = 'timer' AND satisfied_at IS NULL AND NOT closed")
    enable_tenant_rls(op.execute, "workflow_conditions")
    op.execute(_REFRESH)
    op.execute(_MATCH)
    for statement in _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER workflow_conditions ON vault_versions")
    op.execute("DROP TRIGGER workflow_conditions ON objects")
    op.execute("DROP TRIGGER workflow_conditions ON kv_records")
    op.execute("DROP FUNCTION workflow_on_vault_version(), workflow_on_object_stored(), "
               "workflow_on_kv_write(), workflow_match(text, text, text, text, text, jsonb), "
               "workflow_refresh(text, text, text)")
    op.execute("DROP TABLE workflow_conditions")
    op.execute("DROP TABLE workflows")
