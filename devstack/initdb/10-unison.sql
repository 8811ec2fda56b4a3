-- The services connect as a non-superuser so row-level security applies to them.
CREATE ROLE unison LOGIN PASSWORD 'unison' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE storage OWNER unison;
