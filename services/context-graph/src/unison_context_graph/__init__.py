"""The context-graph service: the relationship graph (Bolt/Cypher) with Redis caches."""
