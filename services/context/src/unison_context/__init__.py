"""Unison context service: profiles, dashboard state, conversations, context KV."""
