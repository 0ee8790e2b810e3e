"""A workload: how long requests are and when they arrive; turned into concrete requests by a seeded
generator passed in (the simulator never draws its own randomness)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelchip.errors import UserError
from modelchip.workload.arrivals import Arrival, ClosedLoop, Gamma, Poisson, TraceTimes, check_arrival, open_loop_times
from modelchip.workload.lengths import FloatArray, IntArray, LengthDist, check_length_dist, sample_lengths
from modelchip.workload.presets import get_preset
from modelchip.workload.trace import Trace


@dataclass(frozen=True)
class WorkloadSpec:
    isl: LengthDist = field(default_factory=lambda: LengthDist("fixed", 1024))
    osl: LengthDist = field(default_factory=lambda: LengthDist("fixed", 256))
    arrival: Arrival = field(default_factory=lambda: ClosedLoop(64))
    requests: int = 1000
    prefix_hit: float = 0.0
    """share of each prompt already in the prefix cache (not recomputed)."""
    trace: Trace | None = None
    """when set, lengths (and with TraceTimes, arrival times) come from the trace's first `requests` rows."""

    @property
    def mean_isl(self) -> float:
        return float(self.trace.isl[: self.requests].mean()) if self.trace is not None else self.isl.mean

    @property
    def mean_osl(self) -> float:
        return float(self.trace.osl[: self.requests].mean()) if self.trace is not None else self.osl.mean


@dataclass(frozen=True)
class RequestSet:
    """Concrete requests: lengths, and arrival times unless the arrivals are a closed loop."""

    isl: IntArray
    osl: IntArray
    arrival_s: FloatArray | None

    def __len__(self) -> int:
        return len(self.isl)


def preset_workload(name: str, arrival: Arrival, requests: int, prefix_hit: float = 0.0) -> WorkloadSpec:
    """A named preset (chat, reasoning, rag, code) with fixed lengths."""
    p = get_preset(name)
    return WorkloadSpec(LengthDist("fixed", p.isl), LengthDist("fixed", p.osl), arrival, requests, prefix_hit)


def check_workload(w: WorkloadSpec) -> None:
    if w.requests < 1:
        raise UserError(f"--requests must be >= 1 (got {w.requests})")
    if not 0.0 <= w.prefix_hit < 1.0:
        raise UserError(f"--prefix-hit must be within [0, 1) (got {w.prefix_hit:g})")
    check_arrival(w.arrival)
    if isinstance(w.arrival, TraceTimes) and w.trace is None:
        raise UserError("trace arrival times need a trace file; pass --workload FILE or use --rate/--concurrency")
    if w.trace is None:
        check_length_dist(w.isl, "input-length")
        check_length_dist(w.osl, "output-length")


def generate(w: WorkloadSpec, rng: np.random.Generator) -> RequestSet:
    """Draw the requests (lengths first, then arrival gaps, so a seed fixes both)."""
    check_workload(w)
    if w.trace is not None:
        n = min(w.requests, len(w.trace))
        isl, osl = w.trace.isl[:n].copy(), w.trace.osl[:n].copy()
    else:
        n = w.requests
        isl, osl = sample_lengths(w.isl, n, rng), sample_lengths(w.osl, n, rng)
    arrival: FloatArray | None = None
    if isinstance(w.arrival, Poisson | Gamma):
        arrival = open_loop_times(w.arrival, n, rng)
    elif isinstance(w.arrival, TraceTimes):
        assert w.trace is not None
        arrival = w.trace.arrival_s[:n] / w.arrival.speedup
    return RequestSet(isl, osl, arrival)
