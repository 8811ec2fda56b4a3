"""Vector search on pgvector: collections, documents, filtered and hybrid search."""
