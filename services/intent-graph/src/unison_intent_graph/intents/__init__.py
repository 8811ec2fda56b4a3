"""IntentInstance nodes: lifecycle, handlers, lineage, produced resources."""
