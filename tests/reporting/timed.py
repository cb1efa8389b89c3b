"""Records as the timing code writes them now: samples kept, percentiles with their support, the median's
interval and the stability verdict; built from seeded samples so every figure is the samples' own."""

from __future__ import annotations

import random
import statistics

from trtbench.measure.stats import encode_samples, min_samples, quantile_interval
from trtbench.store.records import LatencyRecord


def lognormal(seed: int, count: int = 300, median_ms: float = 5.0, sigma: float = 0.3) -> list[float]:
    """``count`` seeded samples whose distribution's median is ``median_ms``."""
    rng = random.Random(seed)
    return [rng.lognormvariate(0.0, sigma) * median_ms for _ in range(count)]


def _nearest_rank(ordered: list[float], percentile: int) -> float:
    return ordered[max(0, -(-len(ordered) * percentile // 100) - 1)]


def timed(values: list[float], model: str = "ResNet18", batch: int = 1, device: str = "Test GPU",
          backend: str = "tensorrt", run_id: str | None = None, finished_at: str = "2026-01-01T00:00:00Z",
          **fields) -> LatencyRecord:
    """A latency record whose statistics, support, intervals and samples come from ``values``."""
    ordered = sorted(values)
    percentiles, latency = {}, {}
    for name, percentile in (("median", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        needs, has = min_samples(percentile), len(values)
        supported = has >= needs
        value = statistics.median(ordered) if name == "median" else _nearest_rank(ordered, percentile)
        pair = quantile_interval(ordered, percentile / 100)
        percentiles[f"p{percentile}"] = {"ms": value if supported or name == "median" else None,
                                        "supported": supported, "has": has,
                                        "needs": needs, "bound_ms": None,
                                        "interval_ms": list(pair) if pair else None}
        latency[name] = value if supported or name == "median" else None
    latency.update(mean=statistics.fmean(values), min=ordered[0], max=ordered[-1])
    interval = percentiles["p50"]["interval_ms"]
    defaults = dict(status="ok", latency_ms=latency, iterations=len(values), samples=encode_samples(values),
                    percentiles=percentiles, median_interval_ms=interval, timed_s=sum(values) / 1000,
                    stability={"stable": True, "threshold": 0.05, "windows_ms": [], "window_s": 1.0},
                    method={"duration_s": 2.0}, throughput_ips=batch * 1000 / latency["median"],
                    device_shared=False)
    record = LatencyRecord(model=model, backend=backend, device=device, precision="fp16", batch=batch,
                           finished_at=finished_at, **{**defaults, **fields})
    record.run_id = run_id
    return record
