"""unison-migrate: imports the older UnisonOS context and storage services' data."""
