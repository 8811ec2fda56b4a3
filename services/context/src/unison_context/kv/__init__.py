"""Context KV: durable per-person records (tiers A/B/C), encrypted under the person's key."""
