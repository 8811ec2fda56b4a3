"""Targets from the issue, the ratios against the same-run baselines, and the markdown
tables `python -m bench.run` prints and docs/performance.md quotes."""

from __future__ import annotations

from typing import Any

# (kind, baseline op, minimum share of the raw rate, minimum share of the no-op rate)
RATE_TARGETS = {"write": ("insert", 0.25, 0.50), "read": ("select", 0.25, 0.60)}
P99_LIMIT_MS = 25.0
UPLOAD_SHARE = 0.60
TARGET_CONCURRENCY = 16


def _find(results: list[dict[str, Any]], name: str, conc: int) -> dict[str, Any] | None:
    return next((r for r in results if r["scenario"] == name and r["concurrency"] == conc),
                None)


def _check(config: str, scenario: str, metric: str, value: float, target: str,
           passed: bool) -> dict[str, Any]:
    return {"config": config, "scenario": scenario, "metric": metric, "value": value,
            "target": target, "pass": passed}


def evaluate(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target per server configuration, measured at 16 clients."""
    rows: list[dict[str, Any]] = []
    conc = TARGET_CONCURRENCY
    for config, results in data["http"].items():
        floor = _find(results, "whoami", conc)
        for r in results:
            if r["concurrency"] != conc:
                continue
            rows.append(_check(config, r["scenario"], "p99 ms", r["p99_ms"],
                               f"< {P99_LIMIT_MS:g}", r["p99_ms"] < P99_LIMIT_MS))
            if r["kind"] not in RATE_TARGETS:
                continue
            op, raw_share, floor_share = RATE_TARGETS[r["kind"]]
            raw = _find(data["baselines"], op, conc)
            if raw and raw["rps"]:
                ratio = r["rps"] / raw["rps"]
                rows.append(_check(config, r["scenario"], f"rps / raw {op}", round(ratio, 3),
                                   f">= {raw_share:.2f}", ratio >= raw_share))
            floor_rps = r.get("paired_floor_rps") or (floor or {}).get("rps")
            if floor_rps:
                ratio = r["rps"] / floor_rps
                label = ("rps / no-op (paired)" if r.get("paired_floor_rps")
                         else "rps / no-op whoami")
                rows.append(_check(config, r["scenario"], label, round(ratio, 3),
                                   f">= {floor_share:.2f}", ratio >= floor_share))
    obj = data.get("objects") or {}
    if obj.get("upload", {}).get("mb_s") and obj.get("dd", {}).get("mb_s"):
        # The median of per-round ratios (each upload against the dd just before it).
        ratio = obj.get("ratio") or obj["upload"]["mb_s"] / obj["dd"]["mb_s"]
        rows.append(_check(obj["config"], "object_upload", "MB/s / dd MB/s", round(ratio, 3),
                           f">= {UPLOAD_SHARE:.2f}", ratio >= UPLOAD_SHARE))
    return rows


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _result_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["scenario"], r["concurrency"], r["rps"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
             r["max_ms"], r["conflicts"], r["errors"], r.get("server_cpu_us_per_req", "-"),
             r.get("postgres_cpu_us_per_req", "-"), _client_us(r),
             r.get("paired_floor_rps", "-")] for r in results]


def _client_us(r: dict[str, Any]) -> int:
    """The load generator's (or raw client's) CPU per request, warm-up included."""
    # wrk's CPU is measured over its own window: divide by the requests it sent.
    n = r.get("loadgen_requests") or r.get("http_requests_total") or r.get("ops_total") or 1
    return round(float(r["loadgen_cpu_s"]) / n * 1e6)


HEAD = ["scenario", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "412s",
        "errors", "server CPU us/req", "PostgreSQL CPU us/req", "client CPU us/req",
        "paired floor req/s"]


def markdown(data: dict[str, Any]) -> str:
    parts = [f"Run {data['run_id']}: {data['machine']['summary']}; "
             f"{data['config']['seconds']} s measured per scenario after "
             f"{data['config']['warmup']} s warm-up. Load average (1, 5, 15 min) "
             f"{data['machine'].get('loadavg_start')} at the start, "
             f"{data['machine'].get('loadavg_end')} at the end; Python speed probe "
             f"(`sum(range(1000))`, best of 5) {data['machine'].get('cpu_probe_us_start')} "
             f"µs at the start, {data['machine'].get('cpu_probe_us_end')} at the end.", "",
             "Raw asyncpg baselines (separate process, one connection per client):", "",
             _table(HEAD, _result_rows(data["baselines"]))]
    for config, results in data["http"].items():
        parts += ["", f"HTTP, storage service {config} (load generator in a separate "
                  "process, one keep-alive connection per client):", "",
                  _table(HEAD, _result_rows(results))]
    obj = data.get("objects")
    if obj:
        parts += ["", "Object upload vs dd to the same directory:", ""]
        if obj.get("upload", {}).get("mb_s"):
            parts.append(_table(["what", "MiB", "median MB/s", "every round MB/s"], [
                [f"POST /v1/objects ({obj['config']})", obj["upload"]["mib"],
                 obj["upload"]["mb_s"], obj["upload"].get("runs_mb_s", "-")],
                ["dd bs=1M conv=fsync", obj["dd"]["mib"], obj["dd"]["mb_s"],
                 obj["dd"].get("runs_mb_s", "-")]]))
            if obj.get("ratios"):
                parts.append(f"\nUpload / dd per round: {obj['ratios']} (median "
                             f"{obj['ratio']})")
        else:
            parts.append(f"not measured: {obj.get('upload', {}).get('skipped', 'unknown')}"
                         f" (dd alone: {obj.get('dd', {}).get('mb_s')} MB/s)")
    if data.get("skipped"):
        parts += ["", "Scenarios not measured: " + "; ".join(data["skipped"])]
    targets = data.get("targets", [])
    parts += ["", f"Targets (at {TARGET_CONCURRENCY} clients):", "",
              _table(["config", "scenario", "metric", "measured", "target", "result"],
                     [[t["config"], t["scenario"], t["metric"], t["value"], t["target"],
                       "PASS" if t["pass"] else "FAIL"] for t in targets])]
    sql_rows = []
    for config, results in data["http"].items():
        for r in results:
            if r["concurrency"] == max(data["config"]["concurrency"]) and r.get("sql"):
                stmts = "; ".join(f"{t['per_request']}x {t['query'][:60]}"
                                  for t in r["sql"]["top"][:6])
                sql_rows.append([config, r["scenario"], r["sql"]["per_request"], stmts])
    if sql_rows:
        parts += ["", "PostgreSQL statements (round trips) per HTTP request "
                  "(pg_stat_statements):", "",
                  _table(["config", "scenario", "statements/request", "top statements"],
                         sql_rows)]
    if data.get("profile"):
        parts += ["", f"Profile ({data['profile']['what']}): top functions by own samples",
                  "", _table(["function", "own %", "total %"],
                             [[f["function"], f["self_pct"], f["total_pct"]]
                              for f in data["profile"]["top"]]),
                  "", "Own samples by library:", "",
                  _table(["library", "own %"], [[p["package"], p["self_pct"]]
                                                for p in data["profile"]["packages"]])]
    return "\n".join(parts)
