"""Unison storage service."""
