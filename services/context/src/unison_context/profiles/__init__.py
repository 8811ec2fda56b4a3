"""Person profiles: encrypted JSON, versioned, with PIN/passcode hashes kept apart."""
