// Trace and telemetry records are listed per tenant by type and time.
CREATE INDEX resource_tenant_type IF NOT EXISTS FOR (n:Resource) ON (n.tenant, n.type);
