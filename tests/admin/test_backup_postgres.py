"""pg_dump/pg_restore as the backup runs them, on the session's real PostgreSQL: a table
owned by the migration role with forced row-level security and grants to the runtime
role comes back with its rows, owner, grants and policy, so the runtime role is still
refused other tenants' rows; the emptiness, revision and role checks restore relies on."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from unison_admin.pg import PgError, Postgres, find_binary

SCHEMA = """
CREATE TABLE notes (tenant_id text NOT NULL, id int NOT NULL, body text,
                    PRIMARY KEY (tenant_id, id));
ALTER TABLE notes OWNER TO unison;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_tenant ON notes
    USING (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON notes TO unison_app;
CREATE TABLE alembic_version_x (version_num varchar(32) PRIMARY KEY);
ALTER TABLE alembic_version_x OWNER TO unison;
"""


def database(postgres: Any, *statements: str) -> tuple[str, Postgres]:
    name = f"bk_{uuid.uuid4().hex[:10]}"
    postgres.ensure_database(name)
    for sql in statements:
        postgres.psql(sql, database=name)
    return name, Postgres(postgres.url(name, user="postgres", driver="postgresql"))


def seen_by_runtime(postgres: Any, name: str, tenant: str) -> int:
    out = postgres.psql(f"SELECT set_config('app.tenant_id', '{tenant}', false); "
                        "SELECT count(*) FROM notes", database=name, user="unison_app")
    return int(out.split()[-1])


def test_dump_and_restore_keep_rows_owner_grants_and_row_level_security(
        postgres: Any, tmp_path: Path):
    source_name, source = database(
        postgres, SCHEMA, "INSERT INTO alembic_version_x VALUES ('0007')",
        "INSERT INTO notes VALUES ('home', 1, 'a'), ('home', 2, 'b'), ('other', 1, 'c')")
    assert source.alembic_revisions() == {"alembic_version_x": ["0007"]}
    assert source.tables_with_rows() == ["public.notes"]
    assert {"unison", "unison_app"} <= set(source.roles())
    dump = tmp_path / "x.dump"
    source.dump(dump)
    assert dump.read_bytes()[:5] == b"PGDMP"
    assert "TABLE DATA public notes" in source.list_dump(dump)

    # A target the migrations already created (empty, same revision), as `make up` leaves.
    target_name, target = database(postgres, SCHEMA,
                                   "INSERT INTO alembic_version_x VALUES ('0007')")
    assert target.tables_with_rows() == []
    assert target.missing_roles(source.roles()) == []
    target.restore(dump)
    rows = postgres.psql("SELECT tenant_id, id, body FROM notes ORDER BY 1, 2",
                         database=target_name)
    assert rows.split() == ["home|1|a", "home|2|b", "other|1|c"]
    assert target.alembic_revisions() == {"alembic_version_x": ["0007"]}
    meta = postgres.psql("SELECT pg_get_userbyid(relowner), relrowsecurity, "
                         "relforcerowsecurity, relacl::text FROM pg_class "
                         "WHERE relname = 'notes'", database=target_name)
    owner, rls, forced, acl = meta.strip().split("|")
    assert (owner, rls, forced) == ("unison", "t", "t")
    assert "unison_app=ar/unison" in acl
    assert seen_by_runtime(postgres, target_name, "home") == 2
    assert seen_by_runtime(postgres, target_name, "other") == 1
    assert seen_by_runtime(postgres, target_name, "nobody") == 0
    postgres.drop_database(source_name)
    postgres.drop_database(target_name)


def test_restore_is_all_or_nothing(postgres: Any, tmp_path: Path):
    """A failing restore (a role the target lacks) leaves the target as it was."""
    source_name, source = database(postgres, SCHEMA,
                                   "CREATE ROLE bk_gone NOLOGIN",
                                   "GRANT SELECT ON notes TO bk_gone",
                                   "INSERT INTO notes VALUES ('home', 1, 'a')")
    dump = tmp_path / "x.dump"
    source.dump(dump)
    assert "bk_gone" in source.roles()
    postgres.psql("REVOKE ALL ON notes FROM bk_gone", database=source_name)
    postgres.psql("DROP ROLE bk_gone")
    target_name, target = database(postgres, SCHEMA)
    assert target.missing_roles(["unison", "bk_gone"]) == ["bk_gone"]
    with pytest.raises(PgError, match="bk_gone"):
        target.restore(dump)
    assert target.tables_with_rows() == []
    assert postgres.psql("SELECT count(*) FROM notes", database=target_name).strip() == "0"
    postgres.drop_database(source_name)
    postgres.drop_database(target_name)


def test_binaries_are_found_and_failures_carry_the_reason(postgres: Any, tmp_path: Path):
    assert Path(find_binary("pg_dump")).name == "pg_dump"
    assert Path(find_binary("pg_restore")).exists()
    with pytest.raises(PgError, match="not in --pg-bin"):
        find_binary("pg_dump", tmp_path)
    missing = Postgres(postgres.url("bk_no_such_db", user="postgres", driver="postgresql"))
    with pytest.raises(PgError, match="bk_no_such_db"):
        missing.dump(tmp_path / "never.dump")


def test_a_role_bound_by_row_level_security_is_refused(postgres: Any):
    name, superuser = database(postgres, SCHEMA)
    superuser.check_privileged()
    for role in ("unison", "unison_app"):
        bound = Postgres(postgres.url(name, user=role, driver="postgresql"))
        with pytest.raises(PgError, match=f"{role} is neither a superuser nor BYPASSRLS"):
            bound.check_privileged()
    postgres.drop_database(name)
