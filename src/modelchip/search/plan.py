"""`plan`: the best deployment of a model on a system under SLOs.

Enumerate the space (`space.py`), evaluate every candidate with the analytical model
(`evaluate.py`, through any `Evaluator`: in-process, process pool, Ray, or a SQLite-backed store),
compose aggregated and disaggregated configs (`compose.py`), then rank them by the objective among
those meeting the SLO, refine the best few to the exact largest batch that still meets it, and
draw the Pareto frontier of the objective against tokens/s per user.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from modelchip.catalog.loader import load_catalog
from modelchip.errors import UserError
from modelchip.models.hf import load_model
from modelchip.perf import analytic as an
from modelchip.perf.target import Target
from modelchip.search.compose import (
    PrefillChoice,
    SystemShape,
    aggregated_config,
    best_mixes,
    compose,
    disaggregated_config,
    prefill_ranking,
)
from modelchip.search.config import OBJECTIVES, Config, Slo, describe_layout, objective_value, pareto_front
from modelchip.search.evaluate import GRID_STEP, EvalTask, Evaluation, build, curve_point_at, evaluate
from modelchip.search.space import SearchSpace, budget, enumerate_candidates

Evaluator = Callable[[Sequence[EvalTask]], list[Evaluation]]
Progress = Callable[[int, int], None]
REFINE_TOP = 5  # candidates whose batch is refined to the SLO boundary (the grid steps by 2x)
REFINE_OTHER = 2  # for the objectives other than the one ranked
REFINE_STEPS = 10
RANKED_ROWS = 20
SCALE_OUT_SYSTEMS = (2, 4)


def serial_evaluator(tasks: Sequence[EvalTask]) -> list[Evaluation]:
    return [evaluate(t) for t in tasks]


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    isl: float
    osl: float
    prefix_hit: float = 0.0
    osl_cv: float = 0.0
    """output-length spread (std / mean); 0: every request has `osl` tokens."""

    @property
    def analytic(self) -> an.Workload:
        return an.Workload(self.isl, self.osl, self.prefix_hit, self.osl_cv)


@dataclass(frozen=True)
class PlanRequest:
    model: str
    system: str
    workload: WorkloadSpec
    slo: Slo = field(default_factory=Slo)
    objective: str = "chip"
    space: SearchSpace = field(default_factory=SearchSpace)
    price_per_chip_hour: float | None = None


@dataclass(frozen=True)
class MemoryMiss:
    """Why nothing fits: the candidate closest to fitting and the bytes per device it misses by."""

    layout: str
    chips: int
    shortfall_bytes_per_device: float
    hbm_bytes_per_device: float


@dataclass(frozen=True)
class PlanResult:
    request: PlanRequest
    budget_chips: int
    candidates: int
    feasible: int
    configs: int
    ranked: tuple[Config, ...]
    """best operating point meeting the SLO of each candidate and mode, best first."""
    frontier: tuple[Config, ...]
    """Pareto frontier of the objective vs tokens/s per user (all configs, SLO not applied)."""
    best: Config | None
    best_by_objective: dict[str, Config | None]
    """the best config meeting the SLO for every objective in `config.OBJECTIVES`."""
    closest: Config | None
    """when no config meets the SLO: the one nearest to it (smallest worst ratio to a limit)."""
    memory_miss: MemoryMiss | None
    elapsed_s: float
    systems_used: int = 1
    """systems joined over scale-out when one system could not hold the model."""

    def error(self) -> str | None:
        """The one-line reason there is no answer, or None."""
        if self.feasible == 0:
            return no_fit_message(self)
        if self.best is None and self.closest is not None:
            c = self.closest
            return (
                f"no configuration meets {self.request.slo.describe()} for {self.request.model} on "
                f"{self.request.system}; the closest is {c.describe()} at TTFT {c.ttft_s * 1e3:.0f} ms, "
                f"TPOT {c.tpot_s * 1e3:.1f} ms"
            )
        return None


def no_fit_message(r: PlanResult) -> str:
    m = r.memory_miss
    if m is None:
        return f"no layout of {r.request.model} is valid on {r.request.system}"
    return (
        f"{r.request.model} fits nowhere on {r.request.system} within {r.budget_chips} chips: the closest "
        f"({m.chips} chips, {m.layout}) misses {m.shortfall_bytes_per_device / 1e9:.1f} GB per device of "
        f"{m.hbm_bytes_per_device / 1e9:.1f} GB; raise --max-chips or use a narrower format"
    )


def tasks_for(req: PlanRequest) -> list[EvalTask]:
    cat = load_catalog()
    system = cat.system(req.system)
    model = load_model(req.model)
    cands = enumerate_candidates(model, cat.chip(system.chip), system, req.space)
    w = req.workload
    return [EvalTask(req.model, c, w.isl, w.osl, w.prefix_hit, req.price_per_chip_hour, w.osl_cv) for c in cands]


def _memory_miss(evals: Sequence[Evaluation]) -> MemoryMiss | None:
    sized = [e for e in evals if e.hbm_bytes_per_device > 0]
    if not sized:
        return None
    e = min(sized, key=lambda e: (e.shortfall_bytes / e.hbm_bytes_per_device, e.candidate.chips))
    return MemoryMiss(describe_layout(e.candidate), e.candidate.chips, e.shortfall_bytes, e.hbm_bytes_per_device)


def _best_per_candidate(configs: Sequence[Config], slo: Slo, objective: str) -> list[Config]:
    best: dict[tuple[str, str], Config] = {}
    for c in configs:
        if not slo.met(c.ttft_s, c.tpot_s):
            continue
        key = (c.mode, c.candidate.key())
        if key not in best or objective_value(c, objective) > objective_value(best[key], objective):
            best[key] = c
    return sorted(best.values(), key=lambda c: -objective_value(c, objective))


@dataclass(frozen=True)
class _Context:
    req: PlanRequest
    evals: dict[str, Evaluation]
    prefill: list[PrefillChoice]
    budget: int


def _config_at(c: Config, e: Evaluation, t: Target, conc: float, ctx: _Context) -> Config:
    w = ctx.req.workload.analytic
    p = curve_point_at(t, w, conc, e)
    shape = SystemShape(c.chips_per_rack, c.chips_per_system)
    if c.prefill is None:
        return aggregated_config(e, p, shape)
    pre = next(x for x in ctx.prefill if x.evaluation.candidate == c.prefill)
    p_rate = pre.option.prompt_tokens_per_s_per_chip / max(w.isl, 1.0)
    d_rate = np.array([p.decode_tokens_per_s_per_chip / max(w.osl, 1.0)])
    mix = best_mixes(c.candidate.chips, c.prefill.chips, d_rate, p_rate, ctx.budget)[0]
    return disaggregated_config(e, p, pre, mix, w, shape) if mix is not None else c


def _refine(c: Config, ctx: _Context) -> Config:
    """Raise the batch of `c` to the largest that still meets the SLO (bisection between grid points)."""
    req = ctx.req
    e = ctx.evals[c.candidate.key()]
    w = req.workload
    t = build(EvalTask(req.model, c.candidate, w.isl, w.osl, w.prefix_hit, req.price_per_chip_hour, w.osl_cv))
    lo = c.concurrency_per_instance / e.attention_ranks
    hi = min(lo * GRID_STEP, max(p.concurrency_per_rank for p in e.points))
    best = c
    for _ in range(REFINE_STEPS):
        mid = (lo + hi) / 2.0
        cand = _config_at(c, e, t, mid, ctx)
        if req.slo.met(cand.ttft_s, cand.tpot_s):
            lo, best = mid, cand
        else:
            hi = mid
    return best if objective_value(best, req.objective) >= objective_value(c, req.objective) else c


def _ranked(configs: Sequence[Config], ctx: _Context, objective: str, refine: int = REFINE_TOP) -> list[Config]:
    """Best point meeting the SLO of each candidate and mode, the top `refine` refined, best first."""
    ranked = _best_per_candidate(configs, ctx.req.slo, objective)
    obj_ctx = _Context(replace(ctx.req, objective=objective), ctx.evals, ctx.prefill, ctx.budget)
    refined = [_refine(c, obj_ctx) for c in ranked[:refine]]
    return sorted([*refined, *ranked[refine:]], key=lambda c: -objective_value(c, objective))


def plan(req: PlanRequest, evaluator: Evaluator = serial_evaluator) -> PlanResult:
    """Search, evaluate, compose, rank and refine; never raises for infeasibility (see `PlanResult.error`).

    Without a chips budget the search stays within one system; when the model fits nowhere in one, it
    is retried across 2 and then 4 systems joined by their scale-out network (how DeepSeek-R1 is served
    on 80 GB HGX boxes), and `systems_used` says so."""
    first = _plan_once(req, evaluator)
    if first.feasible or req.space.max_chips is not None:
        return first
    size = load_catalog().system(req.system).chip_count
    for n in SCALE_OUT_SYSTEMS:
        r = _plan_once(replace(req, space=replace(req.space, max_chips=n * size)), evaluator)
        if r.feasible:
            return replace(r, request=req, systems_used=n)
    return first


def _plan_once(req: PlanRequest, evaluator: Evaluator) -> PlanResult:
    start = time.perf_counter()
    if req.objective not in OBJECTIVES:
        raise UserError(f"unknown objective '{req.objective}'; use one of {', '.join(OBJECTIVES)}")
    cat = load_catalog()
    system = cat.system(req.system)
    limit = budget(req.space, system)
    tasks = tasks_for(req)
    evals = evaluator(tasks)
    by_key = {e.candidate.key(): e for e in evals}
    shape = SystemShape.of(system)
    prefill = prefill_ranking([e for e in evals if e.fits], req.slo)
    configs = compose(evals, req.workload.analytic, req.space.modes, shape, prefill, limit)
    ctx = _Context(req, by_key, prefill, limit)
    ranked = _ranked(configs, ctx, req.objective)
    best_by = {o: (ranked if o == req.objective else _ranked(configs, ctx, o, REFINE_OTHER))[:1] for o in OBJECTIVES}
    frontier = pareto_front(configs, lambda c: c.tokens_per_s_per_user, lambda c: objective_value(c, req.objective))
    closest = None
    if not ranked and configs:
        closest = min(configs, key=lambda c: (req.slo.excess(c.ttft_s, c.tpot_s), -objective_value(c, req.objective)))
    return PlanResult(
        request=req,
        budget_chips=limit,
        candidates=len(tasks),
        feasible=sum(1 for e in evals if e.fits),
        configs=len(configs),
        ranked=tuple(ranked[:RANKED_ROWS]),
        frontier=tuple(frontier),
        best=ranked[0] if ranked else None,
        best_by_objective={o: (v[0] if v else None) for o, v in best_by.items()},
        closest=closest,
        memory_miss=_memory_miss(evals) if not any(e.fits for e in evals) else None,
        elapsed_s=time.perf_counter() - start,
    )
