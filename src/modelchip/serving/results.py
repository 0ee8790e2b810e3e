"""Typed results of a simulation: per-request records, the step timeline and summary statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STATUS_NAMES = ("unfinished", "done", "rejected")


@dataclass(frozen=True)
class LatencyStats:
    """Seconds; NaN when no request contributes."""

    mean_s: float
    p50_s: float
    p90_s: float
    p99_s: float
    count: int


@dataclass(frozen=True)
class Throughput:
    requests_per_s: float
    input_tokens_per_s: float
    output_tokens_per_s: float
    requests_per_s_per_chip: float
    input_tokens_per_s_per_chip: float
    output_tokens_per_s_per_chip: float
    output_tokens_per_s_per_user: float
    """mean over completed requests of 1 / TPOT."""


@dataclass(frozen=True)
class RequestRecords:
    """One entry per request, in request order. Times in seconds from the start; NaN where not reached.
    `status`: 0 unfinished (should never happen), 1 done, 2 rejected (its context can never fit)."""

    arrival_s: FloatArray
    first_token_s: FloatArray
    finish_s: FloatArray
    isl: IntArray
    osl: IntArray
    instance: IntArray
    preemptions: IntArray
    status: IntArray

    @property
    def ttft_s(self) -> FloatArray:
        return self.first_token_s - self.arrival_s

    @property
    def e2e_s(self) -> FloatArray:
        return self.finish_s - self.arrival_s

    @property
    def tpot_s(self) -> FloatArray:
        """Mean time per output token after the first; NaN for one-token outputs."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.osl > 1, (self.finish_s - self.first_token_s) / (self.osl - 1), np.nan)


@dataclass(frozen=True)
class Timeline:
    """One row per engine step of any instance, in start-time order."""

    time_s: FloatArray
    instance: IntArray
    duration_s: FloatArray
    decoding: IntArray
    prefill_tokens: IntArray
    running: IntArray
    queued: IntArray
    kv_used_fraction: FloatArray


@dataclass(frozen=True)
class SimulationResult:
    requests: RequestRecords
    timeline: Timeline
    ttft: LatencyStats
    tpot: LatencyStats
    itl: LatencyStats
    """gap between streamed token chunks (one engine step; with MTP a chunk holds the accepted tokens)."""
    e2e: LatencyStats
    throughput: Throughput
    goodput_requests_per_s: float
    """completed requests per second that met every SLO that was set."""
    slo_attainment: float
    completed: int
    rejected: int
    unfinished: int
    preemptions: int
    chips: int
    duration_s: float
    kv_mean_fraction: float
    """step-time-weighted mean share of KV blocks in use, over all instances' steps."""
    kv_peak_fraction: float
    queue_mean: float
    queue_max: int
    running_mean: float
