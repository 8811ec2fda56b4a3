"""The intent-graph service: IntentInstance lifecycle, routing and lineage (Bolt/Cypher)."""
