"""Path-addressed files: a path names the latest object stored under it."""
