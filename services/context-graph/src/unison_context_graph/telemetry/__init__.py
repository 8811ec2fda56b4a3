"""Actuation telemetry records, kept in storage, indexed in the graph."""
