"""The object store a deployment configured: payloads on disk or in an S3 bucket.

A module of its own so the store's types (store.py) import neither backend, and each
backend imports only those types."""

from __future__ import annotations

from ..settings import ObjectBackend, StorageSettings
from .store import ObjectStore


def create_object_store(settings: StorageSettings) -> ObjectStore:
    opts = settings.storage
    if opts.object_backend is ObjectBackend.S3:
        from .s3_store import S3ObjectStore

        return S3ObjectStore(opts)
    from .fs_store import FSObjectStore

    return FSObjectStore(opts.object_fs_root)
