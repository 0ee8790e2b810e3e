"""Arrival processes: closed loop (benchmark clients), Poisson, gamma (bursty), trace timestamps.

Gamma inter-arrival times with coefficient of variation cv: shape k = 1 / cv^2, scale = 1 / (rate k);
cv = 1 is Poisson, cv > 1 is burstier (BurstGPT fits cv ~ 2-3 for conversation logs, Wang et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelchip.errors import UserError
from modelchip.workload.lengths import FloatArray


@dataclass(frozen=True)
class ClosedLoop:
    """`concurrency` clients, each sending its next request when the previous one ends."""

    concurrency: int


@dataclass(frozen=True)
class Poisson:
    rate_per_s: float


@dataclass(frozen=True)
class Gamma:
    rate_per_s: float
    cv: float = 2.0


@dataclass(frozen=True)
class TraceTimes:
    """Use the trace's own timestamps, optionally sped up (`speedup` = 2 halves every gap)."""

    speedup: float = 1.0


Arrival = ClosedLoop | Poisson | Gamma | TraceTimes


def check_arrival(a: Arrival) -> None:
    if isinstance(a, ClosedLoop) and a.concurrency < 1:
        raise UserError(f"--concurrency must be >= 1 (got {a.concurrency})")
    if isinstance(a, Poisson | Gamma) and not a.rate_per_s > 0:
        raise UserError(f"--rate must be > 0 requests/s (got {a.rate_per_s:g})")
    if isinstance(a, Gamma) and not a.cv > 0:
        raise UserError(f"--burstiness (gamma cv) must be > 0 (got {a.cv:g})")
    if isinstance(a, TraceTimes) and not a.speedup > 0:
        raise UserError(f"trace speed-up must be > 0 (got {a.speedup:g})")


def open_loop_times(a: Poisson | Gamma, n: int, rng: np.random.Generator) -> FloatArray:
    """Arrival times of `n` requests, the first at its first inter-arrival gap after 0."""
    check_arrival(a)
    if isinstance(a, Poisson):
        gaps = rng.exponential(1.0 / a.rate_per_s, size=n)
    else:
        shape = 1.0 / a.cv**2
        gaps = rng.gamma(shape, 1.0 / (a.rate_per_s * shape), size=n)
    return np.cumsum(gaps)
