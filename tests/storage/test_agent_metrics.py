"""/v1/metrics: single and batch record, query by entity, metric, thread, time range and
labels with a cursor, and aggregates per 1m/1h/1d bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

M = "/v1/metrics"
BASE = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def _point(value, minutes=0.0, **kw):
    return {"entity_type": "agent", "entity_name": "cortex", "metric_name": "latency_ms",
            "value": value, "timestamp": (BASE + timedelta(minutes=minutes)).isoformat(), **kw}


async def test_record_single_and_batch_then_query(client, make_caller):
    carol = make_caller()
    one = await client.post(M, json={"entity_type": "tool", "entity_name": "search",
                                     "metric_name": "calls", "value": 1,
                                     "labels": {"ok": "yes"}, "thread_id": "session_x"},
                            headers=carol.headers)
    assert one.status_code == 201, one.text
    assert one.json()["labels"] == {"ok": "yes"} and one.json()["thread_id"] == "session_x"
    now = datetime.fromisoformat(one.json()["timestamp"])
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60  # defaults to now
    points = [_point(float(i), minutes=i, labels={"model": "a" if i % 2 else "b"})
              for i in range(10)]
    batch = await client.post(f"{M}/batch", json={"points": points}, headers=carol.headers)
    assert batch.status_code == 201 and batch.json()["recorded"] == 10
    assert [p["value"] for p in batch.json()["items"]] == [float(i) for i in range(10)]
    series = {"entity_type": "agent", "entity_name": "cortex", "metric_name": "latency_ms"}
    seen, cursor = [], None
    while True:
        params = {**series, "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(M, params=params, headers=carol.headers)).json()
        seen += [p["value"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [float(i) for i in reversed(range(10))]  # newest first
    ranged = (await client.get(M, params={
        **series, "start": (BASE + timedelta(minutes=2)).isoformat(),
        "end": (BASE + timedelta(minutes=5)).isoformat()}, headers=carol.headers)).json()
    assert [p["value"] for p in ranged["items"]] == [4.0, 3.0, 2.0]  # end is exclusive
    labelled = (await client.get(M, params={**series, "label": "model:a"},
                                 headers=carol.headers)).json()
    assert [p["value"] for p in labelled["items"]] == [9.0, 7.0, 5.0, 3.0, 1.0]
    by_thread = (await client.get(M, params={"thread_id": "session_x"},
                                  headers=carol.headers)).json()
    assert [p["metric_name"] for p in by_thread["items"]] == ["calls"]


async def test_aggregates(client, make_caller):
    carol = make_caller()
    values = list(range(1, 101))  # 100 points over the first 100 seconds of 10:00
    points = [_point(float(v), minutes=v / 60 - 1 / 60) for v in values]
    points += [_point(1000.0, minutes=61)]  # the next hour
    r = await client.post(f"{M}/batch", json={"points": points}, headers=carol.headers)
    assert r.status_code == 201
    hourly = (await client.get(f"{M}/aggregate", params={
        "metric_name": "latency_ms", "bucket": "1h", "entity_type": "agent"},
                               headers=carol.headers)).json()
    assert hourly["bucket"] == "1h" and len(hourly["items"]) == 2
    first, second = hourly["items"]
    assert datetime.fromisoformat(first["bucket_start"]) == BASE
    assert (first["count"], first["sum"], first["min"], first["max"]) == (100, 5050.0, 1.0, 100.0)
    assert first["avg"] == 50.5 and first["p50"] == 50.5
    assert abs(first["p95"] - 95.05) < 1e-9
    assert second["count"] == 1 and second["p95"] == 1000.0
    minutes = (await client.get(f"{M}/aggregate", params={
        "metric_name": "latency_ms", "bucket": "1m", "end": (BASE + timedelta(hours=1))
        .isoformat()}, headers=carol.headers)).json()["items"]
    assert [b["count"] for b in minutes] == [60, 40]
    daily = (await client.get(f"{M}/aggregate", params={"metric_name": "latency_ms",
                                                         "bucket": "1d"},
                              headers=carol.headers)).json()["items"]
    assert len(daily) == 1 and daily[0]["count"] == 101
    none = (await client.get(f"{M}/aggregate", params={"metric_name": "other"},
                             headers=carol.headers)).json()
    assert none["items"] == []


async def test_bad_input(client, alice):
    for body in ({"entity_type": "a", "entity_name": "b", "metric_name": "c"},
                 {"entity_type": "", "entity_name": "b", "metric_name": "c", "value": 1},
                 {"entity_type": "a", "entity_name": "b", "metric_name": "c", "value": 1,
                  "labels": {"k": 1}},
                 {"entity_type": "a", "entity_name": "b", "metric_name": "c", "value": 1,
                  "timestamp": "2026-01-01T00:00:00"}):  # a time without a zone
        r = await client.post(M, json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)
    r = await client.post(M, content=b'{"entity_type":"a","entity_name":"b","metric_name":"c",'
                          b'"value":NaN}', headers={**alice.headers,
                                                    "Content-Type": "application/json"})
    assert r.status_code == 422
    assert (await client.post(f"{M}/batch", json={"points": []}, headers=alice.headers)
            ).status_code == 422
    assert (await client.post(f"{M}/batch", json={"points": [_point(1)] * 1001},
                              headers=alice.headers)).status_code == 422
    assert (await client.get(f"{M}/aggregate", params={"metric_name": "x", "bucket": "5m"},
                             headers=alice.headers)).status_code == 422
    assert (await client.get(f"{M}/aggregate", headers=alice.headers)).status_code == 422
    assert (await client.get(M, params={"label": "nocolon"}, headers=alice.headers)
            ).status_code == 400
    assert (await client.get(M, params={"cursor": "x"}, headers=alice.headers)
            ).status_code == 400
    assert (await client.get(M, params={"limit": 1001}, headers=alice.headers)
            ).status_code == 422


async def test_too_many_buckets_is_refused_not_truncated(client, make_caller):
    carol = make_caller()
    for start in range(0, 10_001, 1000):
        points = [_point(1.0, minutes=m) for m in range(start, min(start + 1000, 10_001))]
        r = await client.post(f"{M}/batch", json={"points": points}, headers=carol.headers)
        assert r.status_code == 201
    r = await client.get(f"{M}/aggregate", params={"metric_name": "latency_ms", "bucket": "1m"},
                         headers=carol.headers)
    assert r.status_code == 422 and "narrow the range" in r.json()["detail"]
    hourly = (await client.get(f"{M}/aggregate", params={"metric_name": "latency_ms",
                                                          "bucket": "1h"},
                               headers=carol.headers)).json()["items"]
    assert sum(b["count"] for b in hourly) == 10_001
