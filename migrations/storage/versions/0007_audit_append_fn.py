"""Audit append in one round trip: a SQL function that locks the tenant's chain head,
answers an idempotent retry, links the event and moves the head, with the event's hash
computed by PostgreSQL (hash format v2).

The v1 hash covers a JSON document built in Python from the payload as decoded from
jsonb, so PostgreSQL could not compute it and every append needed the head, then the
hash, then the insert: five round trips in a transaction. v2 covers a length-prefixed
concatenation PostgreSQL and Python both build exactly (see audit/chain.py), with the
payload in jsonb's own text form. Rows keep the version they were written with;
`verify` checks each row by its own version, so existing chains stay valid.

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The v2 canonical form, field by field: NULL is "-", any other value is its UTF-8 byte
# length, ":", then the value. Unambiguous without escaping, and the same in Python.
_CANONICAL_FN = """
CREATE FUNCTION audit_canonical_v2(
    tenant_id text, seq bigint, id text, actor text, action text, target text,
    decision_id text, status text, person_id text, payload text, created_at timestamptz,
    prev_hash text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT convert_to('unison-audit-v2', 'UTF8') || convert_to(string_agg(
           CASE WHEN f IS NULL THEN '-'
                ELSE octet_length(convert_to(f, 'UTF8'))::text || ':' || f END,
           '' ORDER BY n), 'UTF8')
  FROM unnest(ARRAY[tenant_id, seq::text, id, actor, action, target, decision_id, status,
                    person_id, payload,
                    -- microseconds since the epoch: exact (extract returns numeric)
                    (extract(epoch FROM created_at) * 1000000)::bigint::text,
                    prev_hash]) WITH ORDINALITY AS t(f, n)
$$
"""

# SECURITY INVOKER (the default): row-level security applies to every statement inside,
# scoped by the set_config calls at the top, which are local to the caller's transaction
# (the statement itself when called in autocommit).
_APPEND_FN = """
CREATE FUNCTION audit_append(
    p_tenant text, p_scope_person text, p_id text, p_actor text, p_action text,
    p_target text, p_decision_id text, p_status text, p_person_id text, p_payload jsonb)
RETURNS TABLE (o_seq bigint, o_id text, o_actor text, o_action text, o_target text,
               o_decision_id text, o_status text, o_person_id text, o_payload text,
               o_created_at timestamptz, o_prev_hash text, o_hash text, o_created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_id text := coalesce(p_id, gen_random_uuid()::text);
    v_at timestamptz;
    v_hash text;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true),
            set_config('app.person_id', coalesce(p_scope_person, ''), true),
            set_config('app.system', '', true);
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
    # A constant default adds the column without rewriting (or updating) a single row,
    # so the append-only trigger is not involved; every existing event is v1.
    op.execute("ALTER TABLE audit_events ADD COLUMN hash_version smallint NOT NULL "
               "DEFAULT 1 CHECK (hash_version IN (1, 2))")
    op.execute(_CANONICAL_FN)
    op.execute(_APPEND_FN)


def downgrade() -> None:
    # v2 rows cannot be verified once the column is gone: refuse rather than lose that.
    op.execute("""
    DO $$ BEGIN
      PERFORM set_config('app.system', 'on', true);  -- see every tenant's rows
      IF EXISTS (SELECT 1 FROM audit_events WHERE hash_version <> 1) THEN
        RAISE EXCEPTION 'audit_events holds v2-hashed events; downgrade would orphan them';
      END IF;
    END $$""")
    op.execute("DROP FUNCTION audit_append(text, text, text, text, text, text, text, text, "
               "text, jsonb)")
    op.execute("DROP FUNCTION audit_canonical_v2(text, bigint, text, text, text, text, text, "
               "text, text, text, timestamptz, text)")
    op.execute("ALTER TABLE audit_events DROP COLUMN hash_version")
