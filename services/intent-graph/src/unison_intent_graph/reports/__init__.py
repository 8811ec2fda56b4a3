"""Capability and gesture reports: content in storage, the reference in the graph."""
