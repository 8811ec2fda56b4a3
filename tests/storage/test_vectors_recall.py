"""Recall of filtered HNSW search against exact search, on a generated clustered data set
spread over 20 tenants (one holding 1%).

Size: 20,000 vectors of dimension 64 (the big tenant 8,000, the small one 200, the other
18 about 655 each), so it runs in well under a minute on the shared cores here. The
issue's full-size figure (100k vectors of dimension 384) needs ~150 MB of index and a
few minutes of inserts; `bench/` is the place for it, not the test suite.

Two apps on the same database answer the same queries: one with
`vector_exact_scan_max_rows` at its minimum (1,000), so the big tenant's searches take the
HNSW index with iterative scans, and one whose threshold is above every collection, so
it always scans exactly: the ground truth.
"""

from __future__ import annotations

import random
import time
from typing import Any

from unison_shared.testing import app_client, running_app

from .conftest import storage_settings
from .test_vectors import V, make_collection, search

DIM = 64
CLUSTERS = 40
SIZES = [8000, 200] + [656] * 17 + [648]  # 20 tenants, 20,000 vectors
QUERIES = 25


def _dataset(rng: random.Random, n: int, centers: list[list[float]]) -> list[list[float]]:
    out = []
    for _ in range(n):
        c = centers[rng.randrange(len(centers))]
        out.append([x + rng.gauss(0, 0.35) for x in c])
    return out


async def _load(client: Any, caller: Any, name: str, vectors: list[list[float]]) -> None:
    for start in range(0, len(vectors), 1000):
        docs = [{"id": f"d{i}", "embedding": [round(x, 5) for x in v],
                 "metadata": {"bucket": i % 4, "n": i}}
                for i, v in enumerate(vectors[start:start + 1000], start=start)]
        r = await client.post(f"{V}/{name}/documents", json={"documents": docs},
                              headers=caller.headers)
        assert r.status_code == 200, r.text


async def _recall(hnsw: Any, exact: Any, caller: Any, name: str,
                  queries: list[list[float]], flt: dict[str, Any] | None,
                  strategy: str) -> float:
    found = 0
    for q in queries:
        body: dict[str, Any] = {"embedding": q, "limit": 10, "filter": flt}
        approx = await search(hnsw, caller, name, **body)
        truth = await search(exact, caller, name, **body)
        assert approx["strategy"] == strategy and truth["strategy"] == "exact"
        assert truth["exhaustive"] is True
        assert approx["exhaustive"] is (strategy == "exact")
        assert approx["k_returned"] == truth["k_returned"] == 10
        if flt:
            assert all(h["metadata"]["bucket"] == flt["bucket"] for h in approx["items"])
        found += len({h["id"] for h in approx["items"]} & {h["id"] for h in truth["items"]})
    return found / (10 * len(queries))


async def _plans(db: Any, caller: Any, name: str, query: list[float]) -> dict[str, Any]:
    """EXPLAIN of the statements the service runs, in the settings it runs them with:
    the HNSW path really walks the collection's own index, the exact one never does."""
    from unison_storage.vectors import repository as repo
    from unison_storage.vectors.filters import compile_filter

    plans: dict[str, Any] = {}
    where = compile_filter({"bucket": 1}, repo.FILTER_OFFSET["nearest"])
    async with db.pool.connection((caller.household_id, caller.person_id)) as conn, \
            conn.transaction():
        coll = await repo.find_collection(conn, caller.household_id, caller.person_id,
                                          name, None)
        assert coll is not None
        plans["id"] = coll.id
        await repo.use_vectors(conn)
        await repo.use_hnsw(conn, 100, 50_000)
        rows = await conn.fetch("EXPLAIN " + repo.nearest_sql(coll, where, False, False),
                                caller.household_id, query, 10, *where.args)
        plans["hnsw"] = "\n".join(r[0] for r in rows)
    async with db.pool.connection((caller.household_id, caller.person_id)) as conn:
        rows = await conn.fetch("EXPLAIN " + repo.nearest_sql(coll, where, True, False),
                                caller.household_id, query, 10, *where.args)
        plans["exact"] = "\n".join(r[0] for r in rows)
    return plans


async def test_filtered_hnsw_recall_against_exact(storage_env, make_caller):
    rng = random.Random(1515)
    centers = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(CLUSTERS)]
    callers = [make_caller() for _ in SIZES]
    names = []
    started = time.monotonic()
    hnsw_settings = storage_settings({**storage_env,
                                      "STORAGE_VECTOR_EXACT_SCAN_MAX_ROWS": "1000"})
    exact_settings = storage_settings({**storage_env,
                                       "STORAGE_VECTOR_EXACT_SCAN_MAX_ROWS": "1000000"})
    from unison_storage.main import create_app

    async with running_app(create_app, hnsw_settings) as a, \
            running_app(create_app, exact_settings) as b, \
            app_client(a, "http://storage") as hnsw, app_client(b, "http://storage") as exact:
        for caller, size in zip(callers, SIZES, strict=True):
            name = await make_collection(hnsw, caller, dimension=DIM)
            names.append(name)
            await _load(hnsw, caller, name, _dataset(rng, size, centers))
        loaded = time.monotonic() - started
        queries = _dataset(rng, QUERIES, centers)
        big, small = (callers[0], names[0]), (callers[1], names[1])
        recall_big = await _recall(hnsw, exact, *big, queries, None, "hnsw")
        # A quarter of the big tenant passes the filter (2,000 > the 1,000 threshold):
        # iterative index scans.
        recall_filtered = await _recall(hnsw, exact, *big, queries, {"bucket": 1}, "hnsw")
        # The small tenant's 200 (and its 50 filtered) are under the threshold: exact.
        recall_small = await _recall(hnsw, exact, *small, queries, None, "exact")
        recall_small_f = await _recall(hnsw, exact, *small, queries, {"bucket": 2}, "exact")
        plans = await _plans(a.state.database, callers[0], names[0], queries[0])
    assert plans["hnsw"].count(f"vector_documents_hnsw_{plans['id']}") == 1, plans
    assert "vector_documents_hnsw" not in plans["exact"], plans
    print(f"loaded 20k in {loaded:.1f}s; recall@10 big {recall_big:.3f}, big filtered "
          f"{recall_filtered:.3f}, small {recall_small:.3f}, small filtered "
          f"{recall_small_f:.3f}")
    assert recall_big >= 0.95 and recall_filtered >= 0.95
    assert recall_small == recall_small_f == 1.0


async def test_a_selective_filter_never_returns_fewer_than_exist(storage_env, make_caller):
    """1,500 documents, 12 of which pass the filter: above the threshold the index is
    tried first (it stops at max_scan_tuples... or finds them); either way the reply holds
    all 12 and says it is exhaustive when it had to finish exactly."""
    rng = random.Random(7)
    caller = make_caller()
    settings = storage_settings({**storage_env, "STORAGE_VECTOR_EXACT_SCAN_MAX_ROWS": "1000",
                                 "STORAGE_VECTOR_MAX_SCAN_TUPLES": "1000",
                                 "STORAGE_VECTOR_EF_SEARCH": "10"})
    from unison_storage.main import create_app

    async with running_app(create_app, settings) as app, \
            app_client(app, "http://storage") as client:
        name = await make_collection(client, caller, dimension=8)
        docs = [{"id": f"d{i}", "embedding": [rng.gauss(0, 1) for _ in range(8)],
                 "metadata": {"rare": i % 125 == 0, "n": i}} for i in range(1500)]
        for start in range(0, 1500, 500):
            r = await client.post(f"{V}/{name}/documents",
                                  json={"documents": docs[start:start + 500]},
                                  headers=caller.headers)
            assert r.status_code == 200, r.text
        # 1,500 match no filter > 1,000: the index; 12 match "rare": under it, exact.
        plain = await search(client, caller, name, embedding=[1] * 8, limit=20)
        assert plain["strategy"] == "hnsw" and plain["k_returned"] == 20
        rare = await search(client, caller, name, embedding=[1] * 8, limit=20,
                            filter={"rare": True})
        assert rare["k_returned"] == 12 and rare["exhaustive"] is True
        # 1,499 pass this filter: the index first; a far-off query with a tiny scan
        # budget may come up short, and then the exact scan finishes the job.
        wide = await search(client, caller, name, embedding=[-5] * 8, limit=1000,
                            filter={"n": {"$gte": 1}})
        assert wide["k_returned"] == 1000
        assert wide["strategy"] in ("hnsw", "exact")
        assert wide["exhaustive"] is (wide["strategy"] == "exact")
