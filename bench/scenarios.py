"""The HTTP scenarios: what one client does per request, and what it prepares first.

Each client is its own person in its own household (tenant), and cycles through its own
keys: 16 clients never contend on a row, so the figures measure the service, not lock
waits that a real workload spread over many tenants would not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp
import orjson

KEYS_PER_CLIENT = 8
JSON = {"Content-Type": "application/json"}


@dataclass
class Client:
    index: int
    base: str
    session: aiohttp.ClientSession
    person_id: str
    household_id: str
    n: int = 0
    sent: int = 0  # every HTTP request, setup included: the denominator of SQL per request
    etags: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    def next_n(self) -> int:
        self.n += 1
        return self.n

    def key(self) -> str:
        return f"c{self.index}-k{self.n % KEYS_PER_CLIENT}"


def _payload(c: Client, n: int) -> dict[str, Any]:
    # About 120 bytes of JSON: a typical small record, the same in every scenario.
    return {"n": n, "client": c.index, "text": "benchmark payload " * 4}


@dataclass(frozen=True)
class Planned:
    """One request of a client's cycle, for load generators that replay a fixed plan
    (wrk): `cas_key` asks for the key's latest ETag in If-Match."""

    method: str
    path: str
    body: bytes | None = None
    cas_key: str | None = None


class Scenario:
    name: ClassVar[str]
    kind: ClassVar[str]  # "write", "read" or "floor"
    ok: ClassVar[frozenset[int]] = frozenset({200, 201})
    conflict: ClassVar[frozenset[int]] = frozenset()

    async def setup(self, c: Client) -> None:
        return None

    async def step(self, c: Client) -> int:
        raise NotImplementedError

    def cycle(self, c: Client) -> list[Planned]:
        """The requests `step` sends, in order, one per key (wrk replays them)."""
        raise NotImplementedError

    @staticmethod
    def _per_key(c: Client, make: Any) -> list[Planned]:
        out = []
        for k in range(KEYS_PER_CLIENT):
            c.n = k
            out.append(make(c.key(), k))
        c.n = 0
        return out


async def _send(c: Client, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    data = orjson.dumps(body) if body is not None else None
    hdrs = {**JSON, **(headers or {})} if data is not None else headers
    c.sent += 1
    async with c.session.request(method, c.base + path, data=data, headers=hdrs) as resp:
        raw = await resp.read()
        return resp.status, raw, resp.headers


async def _must(c: Client, method: str, path: str, body: Any = None) -> dict[str, Any]:
    status, raw, _ = await _send(c, method, path, body)
    if status not in (200, 201):
        raise RuntimeError(f"setup {method} {path} answered {status}: {raw[:300]!r}")
    result: dict[str, Any] = orjson.loads(raw) if raw else {}
    return result


class WhoAmI(Scenario):
    """The framework's floor: token verification and routing, no database."""

    name, kind = "whoami", "floor"

    async def step(self, c: Client) -> int:
        status, _, _ = await _send(c, "GET", "/v1/whoami")
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return [Planned("GET", "/v1/whoami")]


class KVWrite(Scenario):
    """PUT /v1/kv/bench/{k} with If-Match: a versioned check-and-set write."""

    name, kind = "kv_cas_write", "write"
    conflict = frozenset({412})

    async def setup(self, c: Client) -> None:
        for k in range(KEYS_PER_CLIENT):
            key = f"c{c.index}-k{k}"
            status, raw, headers = await _send(c, "PUT", f"/v1/kv/bench/{key}",
                                               {"value": _payload(c, 0)})
            if status not in (200, 201):
                raise RuntimeError(f"setup PUT kv answered {status}: {raw[:300]!r}")
            c.etags[key] = headers["ETag"]

    async def step(self, c: Client) -> int:
        n = c.next_n()
        key = c.key()
        status, _, headers = await _send(c, "PUT", f"/v1/kv/bench/{key}",
                                         {"value": _payload(c, n)},
                                         {"If-Match": c.etags[key]})
        if status == 200:
            c.etags[key] = headers["ETag"]
        elif status == 412:  # refresh the ETag; counted as a conflict, not a write
            _, _, got = await _send(c, "GET", f"/v1/kv/bench/{key}")
            c.etags[key] = got.get("ETag", c.etags[key])
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned(
            "PUT", f"/v1/kv/bench/{key}", orjson.dumps({"value": _payload(c, n)}), key))


class KVRead(Scenario):
    name, kind = "kv_read", "read"

    async def setup(self, c: Client) -> None:
        for k in range(KEYS_PER_CLIENT):
            await _must(c, "PUT", f"/v1/kv/bench-read/c{c.index}-k{k}",
                        {"value": _payload(c, k)})

    async def step(self, c: Client) -> int:
        c.next_n()
        status, _, _ = await _send(c, "GET", f"/v1/kv/bench-read/{c.key()}")
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned("GET", f"/v1/kv/bench-read/{key}"))


class MemoryWrite(Scenario):
    """POST /v1/memory/sessions/{id}/entries: append an entry with a TTL."""

    name, kind = "memory_write", "write"

    async def step(self, c: Client) -> int:
        n = c.next_n()
        status, _, _ = await _send(c, "POST", f"/v1/memory/sessions/{c.key()}/entries",
                                   {"payload": _payload(c, n), "ttl_seconds": 3600})
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned(
            "POST", f"/v1/memory/sessions/{key}/entries",
            orjson.dumps({"payload": _payload(c, n), "ttl_seconds": 3600})))


class MemoryRead(Scenario):
    """GET /v1/memory/sessions/{id}/entries/latest: the newest live entry."""

    name, kind = "memory_read", "read"

    async def setup(self, c: Client) -> None:
        for k in range(KEYS_PER_CLIENT):
            await _must(c, "POST", f"/v1/memory/sessions/c{c.index}-k{k}/entries",
                        {"payload": _payload(c, k), "ttl_seconds": 3600})

    async def step(self, c: Client) -> int:
        c.next_n()
        status, _, _ = await _send(c, "GET", f"/v1/memory/sessions/{c.key()}/entries/latest")
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned(
            "GET", f"/v1/memory/sessions/{key}/entries/latest"))


class VaultWrite(Scenario):
    """PUT /v1/vault/secrets/{name}: encrypt with the tenant's data key, new version."""

    name, kind = "vault_write", "write"

    async def step(self, c: Client) -> int:
        n = c.next_n()
        status, _, _ = await _send(c, "PUT", f"/v1/vault/secrets/bench/{c.key()}",
                                   {"value": f"secret-{c.index}-{n}-" + "s" * 48})
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned(
            "PUT", f"/v1/vault/secrets/bench/{key}",
            orjson.dumps({"value": f"secret-{c.index}-{n}-" + "s" * 48})))


class VaultRead(Scenario):
    """GET /v1/vault/secrets/{name}: the current version, decrypted."""

    name, kind = "vault_read", "read"

    async def setup(self, c: Client) -> None:
        for k in range(KEYS_PER_CLIENT):
            await _must(c, "PUT", f"/v1/vault/secrets/bench-read/c{c.index}-k{k}",
                        {"value": f"secret-{c.index}-{k}-" + "s" * 48})

    async def step(self, c: Client) -> int:
        c.next_n()
        status, _, _ = await _send(c, "GET", f"/v1/vault/secrets/bench-read/{c.key()}")
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned(
            "GET", f"/v1/vault/secrets/bench-read/{key}"))


class AuditAppend(Scenario):
    """POST /v1/audit: one event appended to the tenant's hash chain."""

    name, kind = "audit_append", "write"

    async def step(self, c: Client) -> int:
        n = c.next_n()
        status, _, _ = await _send(c, "POST", "/v1/audit", {
            "action": "bench.write", "actor": f"agent-{c.index}", "target": f"doc-{n}",
            "status": "ok", "payload": _payload(c, n)})
        return status

    def cycle(self, c: Client) -> list[Planned]:
        return self._per_key(c, lambda key, n: Planned("POST", "/v1/audit", orjson.dumps({
            "action": "bench.write", "actor": f"agent-{c.index}", "target": f"doc-{n}",
            "status": "ok", "payload": _payload(c, n)})))


SCENARIOS: dict[str, type[Scenario]] = {s.name: s for s in (
    WhoAmI, KVWrite, KVRead, MemoryWrite, MemoryRead, VaultWrite, VaultRead, AuditAppend)}
