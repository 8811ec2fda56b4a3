"""Conversation sessions and their messages, per person."""
