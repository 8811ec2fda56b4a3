"""The guidance of issue 9 §4 and the markdown table `bench.run` prints (and
docs/performance.md quotes): each route beside the same run's floor and raw driver."""

from __future__ import annotations

from typing import Any

# Minimum share of the no-op floor's rate at GUIDANCE_CLIENTS, by kind of route.
FLOOR_SHARE = {"read": 0.5, "write": 0.4, "vault": 0.25}
P99_MS = 25.0
GUIDANCE_CLIENTS = 16


def guidance(r: dict[str, Any]) -> str:
    """E.g. 'ratio ≥ 0.5: met; p99 < 25 ms: missed', at GUIDANCE_CLIENTS only."""
    if r["clients"] != GUIDANCE_CLIENTS:
        return ""
    share = FLOOR_SHARE.get(r["kind"])
    p99 = f"p99 < {P99_MS:g} ms: {'met' if r['p99_ms'] < P99_MS else 'missed'}"
    return (f"ratio ≥ {share}: {'met' if r['ratio'] >= share else 'missed'}; " if share
            else "") + p99


def markdown(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [f"Run {data['run_id']}: {m['cpu']} x {m['cores']}, load average "
             f"{m['loadavg_start']} at the start and {m['loadavg_end']} at the end; "
             f"{data['seconds']} s measured after {data['warmup']} s warm-up per row.", "",
             "| route | clients | req/s | ratio to floor | p50 ms | p99 ms | floor req/s "
             "(paired) | raw driver req/s | errors | guidance |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["http"]:
        lines.append(f"| {r['scenario']} | {r['clients']} | {r['rps']:,.0f} | {r['ratio']:.2f} "
                     f"| {r['p50_ms']} | {r['p99_ms']} | {r['floor_rps']:,.0f} | "
                     f"{r['raw_rps']:,.0f} ({r['raw_op']}) | {r['errors']} | {guidance(r)} |")
    lines += ["", "Raw driver (asyncpg, the KV statement, no framework): " + "; ".join(
        f"{op} x{conc}: {r['rps']:,.0f}/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
        for op, by_conc in data["raw"].items() for conc, r in by_conc.items())]
    return "\n".join(lines)
