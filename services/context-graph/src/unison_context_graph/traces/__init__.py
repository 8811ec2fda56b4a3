"""Trace replay index: events kept in storage, Resource nodes in the graph."""
