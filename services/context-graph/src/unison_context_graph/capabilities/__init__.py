"""Capability manifests and published tool lists, kept in storage."""
