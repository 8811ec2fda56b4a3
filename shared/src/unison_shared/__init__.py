"""Unison shared library."""
