"""The `/v1` traversal API both graph services serve: router, service, repository."""
