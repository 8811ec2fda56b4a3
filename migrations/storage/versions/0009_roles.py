"""Database roles: the runtime role owns nothing and cannot switch a protection off.

Before: the services ran as the role that owns every table, so a session that reached
the connection could `ALTER TABLE ... DISABLE TRIGGER` and rewrite audit rows, `NO FORCE
ROW LEVEL SECURITY`, or `set_config('app.system', 'on', ...)` to see every tenant.

After: the owner (who runs migrations) owns the schema; the runtime role (the services'
requests) has row privileges only, and none to write audit_events or audit_heads: an
append goes through `audit_append`, now SECURITY DEFINER, which appends only in the
tenant of the caller's session scope; the system role (sweeps, reconcile, key rotation)
sees every tenant through a policy of its own. `app.system` no longer means anything:
row visibility depends on the role and the tenant scope only.

Revision ID: 0009
"""

from alembic import op

from unison_shared.migration_helpers import (
    SYSTEM_ROLE,
    TENANT_VISIBLE_FN,
    grant_runtime_privileges,
    require_roles,
    revoke_writes,
    sql_identifier,
)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_APPEND_FN = """
CREATE OR REPLACE FUNCTION audit_append(
    p_tenant text, p_scope_person text, p_id text, p_actor text, p_action text,
    p_target text, p_decision_id text, p_status text, p_person_id text, p_payload jsonb)
RETURNS TABLE (o_seq bigint, o_id text, o_actor text, o_action text, o_target text,
               o_decision_id text, o_status text, o_person_id text, o_payload text,
               o_created_at timestamptz, o_prev_hash text, o_hash text, o_created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_id text := coalesce(p_id, gen_random_uuid()::text);
    v_at timestamptz;
    v_hash text;
BEGIN
    -- The caller's connection is already in its tenant's scope: append only there.
    IF p_tenant IS DISTINCT FROM current_setting('app.tenant_id', true) THEN
        RAISE EXCEPTION 'audit_append: the tenant is not the session''s scope'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('app.person_id', coalesce(p_scope_person, ''), true);
    -- Locks the head row until the transaction ends: appends from every replica queue
    -- here, and under READ COMMITTED a waiter re-reads the head its predecessor moved.
    INSERT INTO audit_heads AS h (tenant_id, seq, hash)
    VALUES (p_tenant, 0, repeat('0', 64))
    ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq
    RETURNING h.seq, h.hash INTO v_seq, v_prev;
    -- A retry of an event already in the chain answers with that event, unchanged.
    -- Looked up under the head lock, so a concurrent retry has committed or not begun.
    IF p_id IS NOT NULL THEN
        RETURN QUERY
            SELECT e.seq, e.id, e.actor, e.action, e.target, e.decision_id, e.status,
                   e.person_id, e.payload::text, e.created_at, e.prev_hash, e.hash, false
            FROM audit_events e WHERE e.tenant_id = p_tenant AND e.id = p_id;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    v_seq := v_seq + 1;
    -- Taken under the lock, so event times follow the chain order.
    v_at := clock_timestamp();
    v_hash := encode(sha256(audit_canonical_v2(
        p_tenant, v_seq, v_id, p_actor, p_action, p_target, p_decision_id, p_status,
        p_person_id, p_payload::text, v_at, v_prev)), 'hex');
    INSERT INTO audit_events (tenant_id, seq, id, actor, action, target, decision_id,
                              status, person_id, payload, created_at, prev_hash, hash,
                              hash_version)
    VALUES (p_tenant, v_seq, v_id, p_actor, p_action, p_target, p_decision_id, p_status,
            p_person_id, p_payload, v_at, v_prev, v_hash, 2);
    UPDATE audit_heads SET seq = v_seq, hash = v_hash WHERE tenant_id = p_tenant;
    RETURN QUERY SELECT v_seq, v_id, p_actor, p_action, p_target, p_decision_id, p_status,
                        p_person_id, p_payload::text, v_at, v_prev, v_hash, true;
END
$$
"""


def upgrade() -> None:
    require_roles(op.execute)
    op.execute(TENANT_VISIBLE_FN)  # without the app.system escape
    # Tables created before enable_tenant_rls added the system role's policy.
    system = sql_identifier(SYSTEM_ROLE)
    op.execute(f"""
    DO $$ DECLARE t text; BEGIN
      FOR t IN SELECT c.relname FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relrowsecurity
                 AND NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname
                                 AND p.policyname = c.relname || '_system')
      LOOP
        EXECUTE format('CREATE POLICY %I ON %I TO {system} USING (true) '
                       'WITH CHECK (true)', t || '_system', t);
      END LOOP;
    END $$""")
    op.execute(_APPEND_FN)
    grant_runtime_privileges(op.execute)
    for table in ("audit_events", "audit_heads", "alembic_version_storage"):
        revoke_writes(op.execute, table)


def downgrade() -> None:
    raise NotImplementedError("0009 removes a privilege escalation; it is not undone")
