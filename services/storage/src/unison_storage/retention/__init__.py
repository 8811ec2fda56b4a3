"""Retention policies per data class and tenant, and the maintenance run that applies
them."""
