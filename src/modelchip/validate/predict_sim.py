"""Validation cases that need request-level dynamics, run on the serving simulator (issue 5).

- Poisson latency cases (`ttft_ms` / `tpot_ms` at a request rate): simulate that rate.
- Throughput under p99 limits (MLPerf Server/Interactive): the highest Poisson rate whose simulated p99
  TTFT and TPOT meet the limits (bisection between 0 and the analytical capacity), reported as
  rate x mean output length; None when no rate passes (the analytical answer is used then).
- Closed loop at a concurrency: simulate the clients.

Lengths are the case's means (fixed). One instance is simulated with its share of the load: identical
instances behind a router each see a Poisson stream of rate / instances (a split Poisson stream is
Poisson), or concurrency / instances clients. Statistics come from the steady middle of a run: a run
holds STEADY_FACTOR x the requests in flight (Little's law at the analytical steady state), and the
first and last quarter (the ramp-up, when the engine is still filling, and the drain, when arrivals
have stopped) are left out. Each run is one random draw of arrivals and output lengths (`seed`). A case
simulates at least SAMPLE_REQUESTS requests in all: a run shorter than that is repeated with other seeds
(`seeds_for`, up to `SEEDS`) and the case's answer is the median of the draws (predict_case), so that one
unlucky draw does not decide it; a run that long by its own size is one draw, and so is a p99 rate
search (its low-rate probes are the costliest runs of a validation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from modelchip.perf import analytic as an
from modelchip.perf.target import Target
from modelchip.serving import (
    EngineConfig,
    PoolSpec,
    SimulationResult,
    SimulationSpec,
    engine_for,
    simulate,
    step_budget_under,
)
from modelchip.workload import ClosedLoop, LengthDist, Poisson, WorkloadSpec
from modelchip.workload.lengths import spread_lengths

# p99 from the ~2,400 steady requests of the smallest run. With 600 requests (~300 steady, p99 = the 3rd
# largest) one draw moved latency cases by up to ±25% and the public p90 by ±4 points between seeds.
MIN_POISSON_REQUESTS = 4800
SAMPLE_REQUESTS = 14400
MIN_CLOSED_LOOP_REQUESTS = 100
MAX_REQUESTS = 20000
STEADY_FACTOR = 4.0
# The same running-batch guard as the analytical model, so that KV memory, not an engine default, binds.
VALIDATION_ENGINE = EngineConfig(max_running_per_rank=int(an.MAX_RUNNING_PER_RANK))
RATE_BISECTIONS = 6  # 1.6% of the analytical capacity
SEEDS = (0, 1, 2)
"""Seeds of the independent request draws a short run is repeated with; the prediction is their median."""


@dataclass(frozen=True)
class SteadyStats:
    ttft_mean_s: float
    ttft_p99_s: float
    tpot_mean_s: float
    tpot_p99_s: float
    output_tokens_per_s: float
    """whole deployment, from requests finishing in the middle half of the run."""
    chips: int
    rejected: int


def _run_requests(w: an.Workload, poisson: bool, in_flight: float) -> int:
    """Requests in one run: STEADY_FACTOR x the requests in flight, at least the floor, at most the cap."""
    floor = MIN_POISSON_REQUESTS if poisson else MIN_CLOSED_LOOP_REQUESTS
    # Spread lengths fill the batch more slowly: a long request stays (1 + cv^2) times the mean lifetime
    # in the length-biased batch, so the run is that much longer before its middle is steady.
    spread = (1.0 + w.osl_cv**2) ** 2
    return int(min(MAX_REQUESTS, max(floor, STEADY_FACTOR * spread * in_flight)))


def _in_flight_at(t: Target, per_instance_rate: float, w: an.Workload) -> float:
    """Requests in flight in one instance at a Poisson rate (Little's law at the analytical point)."""
    point = an.at_request_rate(t, per_instance_rate, w) or an.offline(t, w)
    return per_instance_rate * (point.ttft_s + max(w.osl - 1, 0) * point.tpot_s)


def seeds_for(requests: int) -> tuple[int, ...]:
    """The draws a case runs: enough runs of `requests` for SAMPLE_REQUESTS in all, at most len(SEEDS)."""
    return SEEDS[: max(1, min(len(SEEDS), -(-SAMPLE_REQUESTS // max(requests, 1))))]


def poisson_seeds(t: Target, instances: int, w: an.Workload, rate: float) -> tuple[int, ...]:
    """The draws of a Poisson case at `rate` requests/s over `instances` (its run's length decides)."""
    per_instance = rate / instances
    return seeds_for(_run_requests(w, True, _in_flight_at(t, per_instance, w)))


def _workload(w: an.Workload, arrival: Poisson | ClosedLoop, in_flight: float) -> WorkloadSpec:
    requests = _run_requests(w, isinstance(arrival, Poisson), in_flight)
    return WorkloadSpec(
        isl=LengthDist("fixed", w.isl),
        osl=spread_lengths(w.osl, w.osl_cv),
        arrival=arrival,
        requests=requests,
        prefix_hit=w.prefix_hit,
    )


def steady_stats(run: SimulationResult, whole_run_rate: bool = False) -> SteadyStats:
    """Latency over requests arriving in the middle half; throughput over finishes in the middle half,
    or over the whole run (closed loops with equal lengths finish in waves, so a window would alias)."""
    rec = run.requests
    done = rec.status == 1
    order = np.argsort(rec.arrival_s, kind="stable")
    n = order.size
    middle = np.zeros(n, dtype=bool)
    middle[order[n // 4 : max(n // 4 + 1, 3 * n // 4)]] = True
    sel = middle & done
    ttft, tpot = rec.ttft_s[sel], rec.tpot_s[sel]
    tpot = tpot[np.isfinite(tpot)]
    finish = rec.finish_s[done]
    lo, hi = np.quantile(finish, [0.25, 0.75]) if finish.size else (0.0, 0.0)
    in_window = done & (rec.finish_s >= lo) & (rec.finish_s <= hi)
    tokens = float(rec.osl[in_window].sum())
    rate = tokens / (hi - lo) if hi > lo and not whole_run_rate else run.throughput.output_tokens_per_s

    def stat(x: np.ndarray, q: float | None) -> float:
        if x.size == 0:
            return float("nan")
        return float(np.mean(x)) if q is None else float(np.quantile(x, q))

    return SteadyStats(stat(ttft, None), stat(ttft, 0.99), stat(tpot, None), stat(tpot, 0.99), rate,
                       run.chips, run.rejected)  # fmt: skip


def engine_under(t: Target, w: an.Workload, tpot_limit_s: float | None) -> EngineConfig:
    """The validation engine, with its token budget sized to the TPOT limit when there is one
    (`serving.step_budget_under`)."""
    engine = engine_for(t, VALIDATION_ENGINE.max_running_per_rank, VALIDATION_ENGINE.max_batched_tokens_per_rank)
    if tpot_limit_s is None or not engine.chunked_prefill:
        return engine  # without chunked prefill the budget bounds whole prompts, not a step's stall
    budget = step_budget_under(t, w.isl, tpot_limit_s, engine.max_batched_tokens_per_rank)
    return replace(engine, max_batched_tokens_per_rank=budget)


def _run(
    t: Target, instances: int, workload: WorkloadSpec, engine: EngineConfig = VALIDATION_ENGINE, seed: int = 0
) -> SteadyStats:
    """One instance's share of the load; throughput scaled back to all `instances`."""
    run = simulate(SimulationSpec(PoolSpec(t, instances=1, engine=engine), workload, seed=seed))
    one = steady_stats(run, whole_run_rate=isinstance(workload.arrival, ClosedLoop))
    return replace(one, output_tokens_per_s=one.output_tokens_per_s * instances, chips=one.chips * instances)


def at_rate(
    t: Target,
    instances: int,
    w: an.Workload,
    rate: float,
    engine: EngineConfig = VALIDATION_ENGINE,
    seed: int = 0,
) -> SteadyStats:
    """Simulate Poisson arrivals at `rate` requests/s spread over `instances` copies of `t`."""
    per_instance = rate / instances
    workload = _workload(w, Poisson(per_instance), _in_flight_at(t, per_instance, w))
    return _run(t, instances, workload, engine, seed)


def closed_loop_seeds(instances: int, w: an.Workload, concurrency: int) -> tuple[int, ...]:
    """The draws of a closed loop of `concurrency` clients over `instances`; one when the lengths are fixed
    (nothing in the run is random then)."""
    if w.osl_cv == 0:
        return SEEDS[:1]
    return seeds_for(_run_requests(w, False, max(1, round(concurrency / instances))))


def closed_loop(t: Target, instances: int, w: an.Workload, concurrency: int, seed: int = 0) -> SteadyStats:
    per_instance = max(1, round(concurrency / instances))
    return _run(t, instances, _workload(w, ClosedLoop(per_instance), per_instance), engine_under(t, w, None), seed)


def best_rate_under_p99(
    t: Target, instances: int, w: an.Workload, ttft_s: float | None, tpot_s: float | None, seed: int = 0
) -> float | None:
    """The highest Poisson rate (requests/s) whose simulated p99 TTFT and TPOT meet the limits, in the
    request draw `seed`. A search is one draw: its probes are the costliest runs of a validation (low rates
    take many small steps), and each probe at the edge is already a long run.

    A stable system's output rate is this arrival rate x the mean output length (what MLPerf reports).
    """

    def meets(s: SteadyStats) -> bool:
        ok_ttft = ttft_s is None or s.ttft_p99_s <= ttft_s
        ok_tpot = tpot_s is None or s.tpot_p99_s <= tpot_s
        return ok_ttft and ok_tpot and s.rejected == 0

    engine = engine_under(t, w, tpot_s)
    lo, hi = 0.0, an.capacity_requests_per_s(t, w, instances)
    best: float | None = None
    for _ in range(RATE_BISECTIONS):
        mid = (lo + hi) / 2
        if meets(at_rate(t, instances, w, mid, engine, seed)):
            lo = best = mid
        else:
            hi = mid
    return best
