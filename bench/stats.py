"""Throughput and latency summaries shared by the HTTP and raw-PostgreSQL generators."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list; 0.0 when empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(latencies: list[float], seconds: float, ok: int, statuses: Counter[str],
              **extra: Any) -> dict[str, Any]:
    lat = sorted(latencies)
    return {
        "ok": ok,
        "seconds": round(seconds, 3),
        "rps": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p95_ms": round(percentile(lat, 95) * 1000, 2),
        "p99_ms": round(percentile(lat, 99) * 1000, 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else 0.0,
        "mean_ms": round(sum(lat) / len(lat) * 1000, 2) if lat else 0.0,
        "statuses": dict(statuses),
        **extra,
    }
