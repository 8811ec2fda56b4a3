"""unison-admin: the operator's commands over the whole platform."""
