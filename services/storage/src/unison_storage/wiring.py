"""Builds the per-process domain services once, in the app's lifespan."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from unison_shared.crypto import Keyring
from unison_shared.database import Database

from .artifacts.service import ArtifactService
from .audit.checkpoints import CheckpointService
from .audit.service import AuditService
from .audit.signing import SigningKey
from .cache.service import CacheService
from .evals.service import EvalService
from .files.service import FileService
from .keys.service import DataKeyService
from .kv.service import KVService
from .memory.service import MemoryService
from .messages.service import MessageService
from .metrics.service import MetricService
from .objects.service import ObjectService
from .objects.store import ObjectStore
from .persons.service import PersonService
from .retention.service import RetentionService
from .settings import StorageSettings
from .state.service import StateService
from .threads.payloads import Payloads
from .threads.service import ThreadService
from .traces.service import TraceService
from .vault.service import VaultService
from .vectors.service import VectorService
from .workflows.service import WorkflowService


@dataclass
class Services:
    db: Database
    redis: Redis | None
    keys: DataKeyService
    kv: KVService
    memory: MemoryService
    audit: AuditService
    checkpoints: CheckpointService
    vault: VaultService
    objects: ObjectService
    threads: ThreadService
    messages: MessageService
    state: StateService
    artifacts: ArtifactService
    metrics: MetricService
    cache: CacheService
    vectors: VectorService
    files: FileService
    traces: TraceService
    evals: EvalService
    workflows: WorkflowService
    retention: RetentionService
    persons: PersonService


def presign_key(settings: StorageSettings, keyring: Keyring) -> bytes:
    configured = settings.storage.presign_secret
    if configured is not None:
        return configured.get_secret_value().encode()
    # No explicit key: derive one from the KEK so it is stable across replicas and restarts
    # without ever reusing the KEK itself.
    return hashlib.sha256(b"unison-presign:" + keyring.keys[keyring.current]).digest()


def keyring_reloader(settings: StorageSettings) -> Callable[[], Keyring] | None:
    """Re-reads the keyring file after a rotation elsewhere; None for an inline keyring."""
    if settings.kek_keyring is not None:
        return None
    path = settings.kek_keyring_file or settings.state_dir / "keys" / "kek.json"
    return lambda: Keyring.from_json(path.read_text())


def build_services(settings: StorageSettings, db: Database, redis: Redis | None,
                   keyring: Keyring, store: ObjectStore,
                   signing_key: SigningKey) -> Services:
    opts = settings.storage
    keys = DataKeyService(keyring, keyring_reloader(settings))
    audit = AuditService(db, keys)
    payloads = Payloads(db, store)
    objects = ObjectService(db, store, opts, presign_key(settings, keyring))
    return Services(
        db=db,
        redis=redis,
        keys=keys,
        kv=KVService(db, keys, set(opts.kv_sensitive_namespaces), opts.max_json_bytes),
        memory=MemoryService(db, opts),
        audit=audit,
        checkpoints=CheckpointService(db, signing_key),
        vault=VaultService(db, keys, audit, opts.vault_max_versions),
        objects=objects,
        threads=ThreadService(payloads, opts.max_json_bytes),
        messages=MessageService(db, payloads, opts),
        state=StateService(payloads, keys, opts),
        artifacts=ArtifactService(payloads, opts),
        metrics=MetricService(),
        cache=CacheService(redis, opts),
        vectors=VectorService(db, opts),
        files=FileService(db, objects, payloads),
        traces=TraceService(payloads, opts.traces_inline_attribute_bytes,
                            opts.traces_max_spans_per_request),
        evals=EvalService(opts.max_json_bytes),
        workflows=WorkflowService(keys, payloads, opts),
        retention=RetentionService(db, payloads, opts.retention_days,
                                   opts.retention_batch_size),
        persons=PersonService(db, redis, keys, audit, payloads),
    )
