"""The requests measured, one table for both tools: `bench.run` replays them with wrk,
`bench.instructions` makes them in-process. Each client is its own person in its own
household and cycles over keys of its own, so clients never contend on a row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

_PAYLOAD = '{"n": 1, "client": 0, "text": "benchmark payload benchmark payload benchmark"}'
VALUE = f'{{"value": {_PAYLOAD}}}'
ENTRY = f'{{"payload": {_PAYLOAD}, "ttl_seconds": 3600}}'
SECRET = '{"value": "secret-value-ssssssssssssssssssssssssssssssssssssssssssss"}'
AUDIT = ('{"action": "bench.write", "actor": "agent", "target": "doc", "status": "ok", '
         f'"payload": {_PAYLOAD}}}')
OBJECT = "o" * 1024
THREAD = '{"agent_name": "bench"}'
MESSAGE = '{"role": "user", "content": "benchmark message benchmark message benchmark"}'
STATE = f'{{"data": {_PAYLOAD}}}'
METRICS = orjson.dumps({"points": [
    {"entity_type": "agent", "entity_name": "bench", "metric_name": f"m{i % 4}",
     "value": float(i), "labels": {"run": "bench"}} for i in range(20)]}).decode()


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "floor", "read", "write" or "vault": which guidance applies
    method: str
    path: str  # {key}: one of the client's keys; {id}: the id its seed request answered
    body: str | None = None
    seed: tuple[str, str, str] | None = None  # made once per key first: what a read reads
    cas: bool = False  # If-Match with the key's latest ETag
    # Made after the seed, with its {id}: what a read of a thread reads.
    then: tuple[tuple[str, str, str], ...] = ()


SCENARIOS = {s.name: s for s in [
    Scenario("whoami", "floor", "GET", "/v1/whoami"),
    Scenario("kv_read", "read", "GET", "/v1/kv/bench-r/{key}",
             seed=("PUT", "/v1/kv/bench-r/{key}", VALUE)),
    Scenario("kv_cas_write", "write", "PUT", "/v1/kv/bench-w/{key}", VALUE,
             seed=("PUT", "/v1/kv/bench-w/{key}", VALUE), cas=True),
    Scenario("memory_write", "write", "POST", "/v1/memory/sessions/w-{key}/entries", ENTRY),
    Scenario("memory_read", "read", "GET", "/v1/memory/sessions/r-{key}/entries/latest",
             seed=("POST", "/v1/memory/sessions/r-{key}/entries", ENTRY)),
    Scenario("vault_write", "vault", "PUT", "/v1/vault/secrets/bench-w/{key}", SECRET),
    Scenario("vault_read", "vault", "GET", "/v1/vault/secrets/bench-r/{key}",
             seed=("PUT", "/v1/vault/secrets/bench-r/{key}", SECRET)),
    Scenario("audit_append", "write", "POST", "/v1/audit", AUDIT),
    Scenario("object_metadata", "read", "GET", "/v1/objects/{id}/metadata",
             seed=("POST", "/v1/objects?filename=bench.bin", OBJECT)),
    # Agent-runtime records: each key is a thread of its own.
    Scenario("message_append", "write", "POST", "/v1/threads/{id}/messages", MESSAGE,
             seed=("POST", "/v1/threads", THREAD)),
    Scenario("history_page", "read", "GET", "/v1/threads/{id}/messages?limit=20",
             seed=("POST", "/v1/threads", THREAD),
             then=tuple(("POST", "/v1/threads/{id}/messages", MESSAGE) for _ in range(20))),
    Scenario("state_put", "write", "PUT", "/v1/threads/{id}/state", STATE,
             seed=("POST", "/v1/threads", THREAD)),
    Scenario("state_get", "read", "GET", "/v1/threads/{id}/state",
             seed=("POST", "/v1/threads", THREAD),
             then=(("PUT", "/v1/threads/{id}/state", STATE),)),
    Scenario("metric_batch", "write", "POST", "/v1/metrics/batch", METRICS),
]}


def content_type(path: str) -> str:
    return "application/octet-stream" if path.startswith("/v1/objects") else "application/json"


@dataclass
class Seeded:
    """What a key's seed request answered: its ETag and the id in its body."""

    etag: str | None = None
    id: str | None = None


def seed_requests(s: Scenario, keys: list[str]) -> Iterator[tuple[str, str, str, str]]:
    """(key, method, path, body) of the requests that prepare `keys`."""
    if s.seed is not None:
        method, path, body = s.seed
        for key in keys:
            yield key, method, path.format(key=key), body


def follow_ups(s: Scenario, seed: Seeded | None) -> Iterator[tuple[str, str, str]]:
    """(method, path, body) of the requests made after a key's seed, with its id."""
    for method, path, body in s.then:
        yield method, path.format(id=seed.id if seed else None), body


def seeded(status: int, headers: dict[str, str], body: bytes) -> Seeded:
    if status not in (200, 201):
        raise RuntimeError(f"seed request answered {status}: {body[:300]!r}")
    doc: Any = orjson.loads(body) if body.startswith(b"{") else {}
    return Seeded(headers.get("etag"), doc.get("id"))


def request(s: Scenario, key: str, seed: Seeded | None) -> tuple[str, str, str | None]:
    """(method, path, body) of one request of a client's cycle."""
    return s.method, s.path.format(key=key, id=seed.id if seed else None), s.body
