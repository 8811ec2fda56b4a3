// Routing ranks the handlers of an intent type; intents are listed by type and state.
CREATE INDEX intent_tenant_type IF NOT EXISTS FOR (n:IntentInstance) ON (n.tenant, n.type);
