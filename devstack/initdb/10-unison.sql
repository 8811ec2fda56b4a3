-- The database roles (docs/storage.md, Security), a set per database: the owner runs
-- that database's migrations and owns its schema; the service's requests run as the
-- runtime role and its system jobs as the system role, neither of which owns anything.
-- None is a superuser or bypasses RLS, and each set can connect to its own database
-- only: storage's roles never open context's database, nor the other way round.
-- The passwords are development values; compose.yml's URLs carry the same ones.
CREATE ROLE storage_owner LOGIN PASSWORD 'storage_owner' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE storage_app LOGIN PASSWORD 'storage_app' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE storage_system LOGIN PASSWORD 'storage_system' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE context_owner LOGIN PASSWORD 'context_owner' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE context_app LOGIN PASSWORD 'context_app' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE context_system LOGIN PASSWORD 'context_system' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;

CREATE DATABASE storage OWNER storage_owner;
CREATE DATABASE context OWNER context_owner;
REVOKE CONNECT, TEMPORARY ON DATABASE storage FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE context FROM PUBLIC;
GRANT CONNECT ON DATABASE storage TO storage_app, storage_system;
GRANT CONNECT ON DATABASE context TO context_app, context_system;

-- Since PostgreSQL 15 only the database owner may create in `public`; say so anyway,
-- for the runtime and system roles of each database.
\connect storage
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- pgvector's extension is not trusted: the superuser creates it, storage's migration
-- only checks that it is there.
CREATE EXTENSION IF NOT EXISTS vector;

\connect context
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
