"""Routing: ranked candidate handlers of an intent type from past outcomes."""
