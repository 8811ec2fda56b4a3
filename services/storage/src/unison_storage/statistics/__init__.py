"""Counts and bytes per data class: a tenant's own, or (an operator) every tenant's."""
