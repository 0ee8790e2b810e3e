"""`compare`: one plan per system on the same model, workload and SLO, and where each system wins and why.

The "why" reads the bound of the winner's and the runner-up's best configs (what limits their decode
steps: compute, HBM bandwidth, interconnect or host overhead) and puts the catalog figure behind that
bound side by side (peak FLOP/s in the format each runs, HBM bandwidth, scale-up bandwidth), together
with memory capacity (how large a batch fits), number formats, power per chip, price and packing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from modelchip.catalog.loader import Catalog, load_catalog
from modelchip.errors import UserError
from modelchip.search.config import OBJECTIVES, Config, objective_value
from modelchip.search.plan import Evaluator, PlanRequest, PlanResult, plan, serial_evaluator


@dataclass(frozen=True)
class Win:
    objective: str
    winner: str
    value: float
    runner_up: str | None
    ratio: float | None
    """winner / runner-up."""
    why: str


@dataclass(frozen=True)
class CompareResult:
    request: PlanRequest
    """the shared request (its `system` is the first system)."""
    plans: tuple[PlanResult, ...]
    wins: tuple[Win, ...]

    def failures(self) -> list[tuple[str, str]]:
        return [(p.request.system, p.error() or "") for p in self.plans if p.best is None]


def compare(
    base: PlanRequest,
    systems: Sequence[str],
    evaluator: Evaluator = serial_evaluator,
    on_system: Callable[[str], None] | None = None,
) -> CompareResult:
    if not systems:
        raise UserError("compare needs at least one system id; run `modelchip catalog list` for ids")
    cat = load_catalog()
    for s in systems:
        cat.system(s)  # unknown ids fail before any work
    plans = []
    for s in systems:
        if on_system is not None:
            on_system(s)
        plans.append(plan(replace(base, system=s), evaluator))
    wins = tuple(w for o in OBJECTIVES if (w := _win(o, plans, cat)) is not None)
    return CompareResult(base, tuple(plans), wins)


def _win(objective: str, plans: Sequence[PlanResult], cat: Catalog) -> Win | None:
    scored = [(p.best_by_objective.get(objective), p.request.system) for p in plans]
    ok = [(c, s) for c, s in scored if c is not None and objective_value(c, objective) > float("-inf")]
    if not ok:
        return None
    ok.sort(key=lambda cs: -objective_value(cs[0], objective))
    best, name = ok[0]
    value = objective_value(best, objective)
    if len(ok) == 1:
        return Win(objective, name, value, None, None, "the only system that meets the SLO")
    second, second_name = ok[1]
    ratio = value / objective_value(second, objective)
    return Win(objective, name, value, second_name, ratio, explain(objective, best, second, cat))


def _fmt(x: float, unit: str) -> str:
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G")):
        if x >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def hardware_reason(a: Config, b: Config, cat: Catalog) -> str:
    """The catalog figure behind the bound of a's decode step, a vs b."""
    ca, cb = cat.chip(cat.system(a.system).chip), cat.chip(cat.system(b.system).chip)
    bound = a.decode_bound
    if bound == "compute":
        fa, fb = a.compute_format, b.compute_format
        pa, pb = ca.compute.peak_flops(fa) or 0.0, cb.compute.peak_flops(fb) or 0.0
        text = f"decode is compute-bound: {_fmt(pa, 'FLOP/s')} {fa} vs {_fmt(pb, 'FLOP/s')} {fb} per chip"
    elif bound == "communication":
        sa, sb = cat.system(a.system).scale_up, cat.system(b.system).scale_up
        va = sa.bandwidth_bytes_per_s_per_direction_per_chip.value
        vb = sb.bandwidth_bytes_per_s_per_direction_per_chip.value
        text = f"decode is interconnect-bound: scale-up {_fmt(va, 'B/s')} vs {_fmt(vb, 'B/s')} per chip"
    elif bound == "overhead":
        text = "decode is bound by host overhead per step (engine), not by the chip"
    else:
        va, vb = ca.memory.bandwidth_bytes_per_s.value, cb.memory.bandwidth_bytes_per_s.value
        text = f"decode is HBM-bandwidth-bound: {_fmt(va, 'B/s')} vs {_fmt(vb, 'B/s')} per chip"
    cap_a, cap_b = ca.memory.capacity_bytes.value, cb.memory.capacity_bytes.value
    batch_a = a.concurrency_per_instance / a.candidate.chips
    batch_b = b.concurrency_per_instance / b.candidate.chips
    text += f"; {batch_a:.0f} vs {batch_b:.0f} sequences per chip ({_fmt(cap_a, 'B')} vs {_fmt(cap_b, 'B')} HBM)"
    if a.compute_format != b.compute_format:
        text += f"; {a.compute_format} vs {b.compute_format} expert GEMMs"
    return text


def explain(objective: str, a: Config, b: Config, cat: Catalog) -> str:
    """Why `a` (on its system) beats `b` (on its system) on `objective`."""
    per_chip = a.tokens_per_s_per_chip / b.tokens_per_s_per_chip
    lead = f"{per_chip:.2f}x tok/s per chip ({hardware_reason(a, b, cat)})"
    if objective == "chip":
        return lead
    if objective == "kw":
        power = a.power_w_per_chip / b.power_w_per_chip
        return (
            f"{lead} at {power:.2f}x the all-in power per chip ({a.power_w_per_chip:.0f} vs {b.power_w_per_chip:.0f} W)"
        )
    if objective == "dollar":
        pa, pb = a.price_per_chip_hour_usd or 0.0, b.price_per_chip_hour_usd or 0.0
        return f"{lead} at ${pa:.2f} vs ${pb:.2f} per chip-hour ({a.price_basis}; {b.price_basis})"
    unit = objective  # rack or system
    na, nb = (a.chips_per_rack, b.chips_per_rack) if unit == "rack" else (a.chips_per_system, b.chips_per_system)
    if per_chip >= 1.0:
        return f"{lead} with {na:.0f} vs {nb:.0f} chips per {unit}"
    return f"{na:.0f} vs {nb:.0f} chips per {unit} outweigh {lead}"


def with_plans(result: CompareResult, plans: Sequence[PlanResult]) -> CompareResult:
    """The comparison redone on revised plans (e.g. after the simulator rejected some configs)."""
    cat = load_catalog()
    wins = tuple(w for o in OBJECTIVES if (w := _win(o, plans, cat)) is not None)
    return CompareResult(result.request, tuple(plans), wins)
