"""Confirm a planned config with the discrete-event serving simulator (`serving.simulate`).

The analytical model ranks thousands of points; the simulator replays the best few as a closed loop
at the planned concurrency (fixed lengths, `REQUESTS_PER_SLOT` requests per in-flight slot) and
reports TTFT, TPOT and throughput next to the analytical ones. All clients start at once, so the first
wave queues for prefill; TTFT is therefore the median (p99 for p99 limits), which that wave does not
move, and TPOT the mean (p99 for p99 limits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from modelchip.search.compose import instance_counts
from modelchip.search.config import OBJECTIVES, Config, Slo, objective_value
from modelchip.search.evaluate import EvalTask, build
from modelchip.search.plan import PlanRequest, PlanResult
from modelchip.serving.api import simulate
from modelchip.serving.spec import PoolSpec, SimulationSpec
from modelchip.workload.arrivals import ClosedLoop
from modelchip.workload.lengths import LengthDist, spread_lengths
from modelchip.workload.spec import WorkloadSpec

REQUESTS_PER_SLOT = 3
MAX_REQUESTS = 60_000  # bounds the replay of very wide instances (tens of thousands in flight)


@dataclass(frozen=True)
class Confirmation:
    config: Config
    ttft_s: float
    tpot_s: float
    tokens_per_s_per_chip: float
    meets_slo: bool
    requests: int

    @property
    def throughput_ratio(self) -> float:
        """simulated / analytical tokens/s per chip."""
        return self.tokens_per_s_per_chip / self.config.tokens_per_s_per_chip


def _task(req: PlanRequest, c: Config, disaggregated_prefill: bool = False) -> EvalTask:
    w = req.workload
    cand = c.prefill if disaggregated_prefill and c.prefill is not None else c.candidate
    return EvalTask(req.model, cand, w.isl, w.osl, w.prefix_hit, req.price_per_chip_hour, w.osl_cv)


def confirm(req: PlanRequest, c: Config, budget_chips: int) -> Confirmation:
    """Simulate `c` (one instance, or the prefill:decode instance mix of a disaggregated config)."""
    w = req.workload
    n_p, n_d = instance_counts(c, budget_chips) if c.prefill is not None else (0, 1)
    pool = PoolSpec(build(_task(req, c)), instances=n_d)
    prefill = PoolSpec(build(_task(req, c, True)), instances=n_p) if c.prefill is not None else None
    conc = max(1, round(c.concurrency_per_instance * n_d))
    requests = min(MAX_REQUESTS, conc * REQUESTS_PER_SLOT)
    conc = min(conc, requests)
    length = WorkloadSpec(LengthDist("fixed", w.isl), spread_lengths(w.osl, w.osl_cv), ClosedLoop(conc), requests,
                          prefix_hit=w.prefix_hit)  # fmt: skip
    res = simulate(SimulationSpec(pool, length, prefill_pool=prefill))
    ttft = res.ttft.p99_s if req.slo.p99 else res.ttft.p50_s
    tpot = res.tpot.p99_s if req.slo.p99 else res.tpot.mean_s
    limits = Slo(req.slo.ttft_s, req.slo.tpot_s)  # measured percentiles: no p99 factor
    return Confirmation(c, ttft, tpot, res.throughput.output_tokens_per_s_per_chip, limits.met(ttft, tpot), requests)


MAX_EXTRA_TRIES = 6  # configs beyond the top n replayed while looking for one the simulator confirms


def confirm_best(result: PlanResult, n: int) -> tuple[PlanResult, list[Confirmation]]:
    """Replay the top `n` configs, and further down the ranking until one meets the SLO in the simulator.

    Configs the simulator rejects can no longer be "best" for any objective: the plan's best becomes
    the highest-ranked confirmed one, and each objective's best the best config not rejected.
    """
    if n <= 0 or not result.ranked:
        return result, []
    req, sims, confirmed = result.request, [], None
    for i, c in enumerate(result.ranked[: n + MAX_EXTRA_TRIES]):
        if i >= n and confirmed is not None:
            break
        sims.append(confirm(req, c, result.budget_chips))
        if sims[-1].meets_slo and confirmed is None:
            confirmed = c
    rejected = {id(s.config) for s in sims if not s.meets_slo}
    if confirmed is None or not rejected:
        return result, sims
    kept = tuple(c for c in result.ranked if id(c) not in rejected)
    ranked = (confirmed, *(c for c in kept if c is not confirmed))
    by_objective = {o: _keep_or_replace(result.best_by_objective.get(o), kept, o, rejected) for o in OBJECTIVES}
    return replace(result, ranked=ranked, best=confirmed, best_by_objective=by_objective), sims


def _keep_or_replace(
    current: Config | None, kept: Sequence[Config], objective: str, rejected: set[int]
) -> Config | None:
    """An objective's best stays unless the simulator rejected it."""
    return current if current is not None and id(current) not in rejected else _best_for(kept, objective)


def _best_for(configs: Sequence[Config], objective: str) -> Config | None:
    scored = [(objective_value(c, objective), -i) for i, c in enumerate(configs)]
    return configs[-max(scored)[1]] if scored else None
