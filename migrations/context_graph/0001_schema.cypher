// The base schema: every node carries the Entity label and its (tenant, id) is unique;
// each schema label gets an index on (tenant, id). Idempotent: IF NOT EXISTS throughout.
CREATE CONSTRAINT unison_migration_key IF NOT EXISTS FOR (m:UnisonMigration) REQUIRE (m.scope, m.name) IS UNIQUE;
CREATE CONSTRAINT entity_tenant_id IF NOT EXISTS FOR (n:Entity) REQUIRE (n.tenant, n.id) IS UNIQUE;
CREATE INDEX person_tenant_id IF NOT EXISTS FOR (n:Person) ON (n.tenant, n.id);
CREATE INDEX device_tenant_id IF NOT EXISTS FOR (n:Device) ON (n.tenant, n.id);
CREATE INDEX agent_tenant_id IF NOT EXISTS FOR (n:Agent) ON (n.tenant, n.id);
CREATE INDEX service_tenant_id IF NOT EXISTS FOR (n:Service) ON (n.tenant, n.id);
CREATE INDEX skill_tenant_id IF NOT EXISTS FOR (n:Skill) ON (n.tenant, n.id);
CREATE INDEX resource_tenant_id IF NOT EXISTS FOR (n:Resource) ON (n.tenant, n.id);
CREATE INDEX workspace_tenant_id IF NOT EXISTS FOR (n:Workspace) ON (n.tenant, n.id);
CREATE INDEX session_tenant_id IF NOT EXISTS FOR (n:Session) ON (n.tenant, n.id);
CREATE INDEX intentinstance_tenant_id IF NOT EXISTS FOR (n:IntentInstance) ON (n.tenant, n.id);
CREATE INDEX policygroup_tenant_id IF NOT EXISTS FOR (n:PolicyGroup) ON (n.tenant, n.id);
