"""Summary statistics of a finished simulation (pure functions of the records and the step log)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from modelchip.workload.slo import Slo

from .engine import DONE, REJECTED, Request
from .results import FloatArray, LatencyStats, RequestRecords, SimulationResult, Throughput, Timeline
from .sim import StepLog

BoolArray = npt.NDArray[np.bool_]


def latency_stats(values: FloatArray, weights: FloatArray | None = None) -> LatencyStats:
    """Mean and percentiles; `weights` make each value count that many times (step gaps per sequence)."""
    mask = np.isfinite(values)
    if weights is not None:
        mask &= weights > 0
    v = values[mask]
    if v.size == 0:
        nan = float("nan")
        return LatencyStats(nan, nan, nan, nan, 0)
    if weights is None:
        p50, p90, p99 = np.percentile(v, [50, 90, 99])
        return LatencyStats(float(v.mean()), float(p50), float(p90), float(p99), int(v.size))
    w = weights[mask]
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cdf = np.cumsum(w) / w.sum()
    idx = np.minimum(np.searchsorted(cdf, [0.5, 0.9, 0.99]), v.size - 1)
    p50, p90, p99 = (float(x) for x in v[idx])
    return LatencyStats(float(np.average(v, weights=w)), p50, p90, p99, int(w.sum()))


def records(requests: list[Request]) -> RequestRecords:
    def col(name: str, dtype: type) -> npt.NDArray[Any]:
        return np.fromiter((getattr(r, name) for r in requests), dtype=dtype, count=len(requests))

    return RequestRecords(
        arrival_s=col("arrival_s", np.float64),
        first_token_s=col("first_s", np.float64),
        finish_s=col("finish_s", np.float64),
        isl=col("isl", np.int64),
        osl=col("osl", np.int64),
        instance=col("instance", np.int64),
        preemptions=col("preemptions", np.int64),
        status=col("status", np.int64),
    )


def timeline(log: StepLog) -> Timeline:
    return Timeline(
        time_s=np.asarray(log.time_s, dtype=np.float64),
        instance=np.asarray(log.instance, dtype=np.int64),
        duration_s=np.asarray(log.duration_s, dtype=np.float64),
        decoding=np.asarray(log.decoding, dtype=np.int64),
        prefill_tokens=np.asarray(log.prefill_tokens, dtype=np.int64),
        running=np.asarray(log.running, dtype=np.int64),
        queued=np.asarray(log.queued, dtype=np.int64),
        kv_used_fraction=np.asarray(log.kv_used, dtype=np.float64),
    )


def meets_slo(rec: RequestRecords, slo: Slo) -> BoolArray:
    """Boolean per request: done and within every SLO that is set (a one-token output has no TPOT)."""
    good: BoolArray = rec.status == DONE
    if slo.ttft_s is not None:
        good &= rec.ttft_s <= slo.ttft_s
    if slo.tpot_s is not None:
        good &= np.nan_to_num(rec.tpot_s, nan=0.0) <= slo.tpot_s
    if slo.e2e_s is not None:
        good &= rec.e2e_s <= slo.e2e_s
    return good


def _throughput(rec: RequestRecords, done: BoolArray, duration: float, chips: int) -> Throughput:
    span = max(duration, 1e-12)
    n = float(done.sum())
    inp, out = float(rec.isl[done].sum()), float(rec.osl[done].sum())
    tpot = rec.tpot_s[done]
    tpot = tpot[np.isfinite(tpot) & (tpot > 0)]
    per_user = float((1.0 / tpot).mean()) if tpot.size else float("nan")
    return Throughput(
        n / span, inp / span, out / span, n / span / chips, inp / span / chips, out / span / chips, per_user
    )


def summarise(requests: list[Request], log: StepLog, slo: Slo, chips: int) -> SimulationResult:
    rec = records(requests)
    tl = timeline(log)
    done = rec.status == DONE
    ended = rec.status != 0
    duration = float(np.nanmax(rec.finish_s[ended]) - np.nanmin(rec.arrival_s[ended])) if ended.any() else 0.0
    good = meets_slo(rec, slo)
    weights = tl.duration_s
    total_time = float(weights.sum())
    return SimulationResult(
        requests=rec,
        timeline=tl,
        ttft=latency_stats(rec.ttft_s[done]),
        tpot=latency_stats(rec.tpot_s[done]),
        itl=latency_stats(tl.duration_s, tl.decoding.astype(np.float64)),
        e2e=latency_stats(rec.e2e_s[done]),
        throughput=_throughput(rec, done, duration, chips),
        goodput_requests_per_s=float(good.sum()) / max(duration, 1e-12),
        slo_attainment=float(good.sum()) / max(int(done.sum()), 1),
        completed=int(done.sum()),
        rejected=int((rec.status == REJECTED).sum()),
        unfinished=int((rec.status == 0).sum()),
        preemptions=int(rec.preemptions.sum()),
        chips=chips,
        duration_s=duration,
        kv_mean_fraction=float(np.average(tl.kv_used_fraction, weights=weights)) if total_time > 0 else 0.0,
        kv_peak_fraction=float(tl.kv_used_fraction.max()) if tl.kv_used_fraction.size else 0.0,
        queue_mean=float(np.average(tl.queued, weights=weights)) if total_time > 0 else 0.0,
        queue_max=int(tl.queued.max()) if tl.queued.size else 0,
        running_mean=float(np.average(tl.running, weights=weights)) if total_time > 0 else 0.0,
    )
