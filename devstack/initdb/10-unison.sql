-- The database roles (docs/storage.md, Security): the owner runs migrations and owns
-- the schemas; the services' requests run as the runtime role and their system jobs as
-- the system role, neither of which owns anything. None is a superuser or bypasses RLS.
CREATE ROLE unison LOGIN PASSWORD 'unison' NOSUPERUSER NOBYPASSRLS;
CREATE ROLE unison_app LOGIN PASSWORD 'unison_app' NOSUPERUSER NOBYPASSRLS;
CREATE ROLE unison_system LOGIN PASSWORD 'unison_system' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE storage OWNER unison;
CREATE DATABASE context OWNER unison;
-- pgvector's extension is not trusted: the superuser creates it, storage's migration
-- only checks that it is there.
\connect storage
CREATE EXTENSION IF NOT EXISTS vector;
