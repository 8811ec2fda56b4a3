"""Encrypted per-person JSON documents (profiles, dashboards): one current version per
person, sealed under the person's data key, with check-and-set by version."""
