"""Suspended workflows: paused mid-way, resumed once their conditions hold."""
