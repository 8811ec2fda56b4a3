"""objects domain."""
