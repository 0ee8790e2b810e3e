"""Turn candidate evaluations into deployments at operating points (`Config`s).

Aggregated: each grid point of each candidate is a config. Disaggregated (DistServe, OSDI 2024;
Splitwise, ISCA 2024): a decode pool at each grid point paired with the prefill pool that gives the
most prompt tokens/s per chip within the TTFT limit; the pools are sized so that prefill keeps up
with decode (prefill chips per decode chip = decode request rate / prefill request rate, per chip),
and the deployment's throughput is counted over the chips of both pools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from modelchip.catalog.schema import SystemSpec
from modelchip.perf.analytic import Workload
from modelchip.search.config import Config, Slo
from modelchip.search.evaluate import CurvePoint, Evaluation, PrefillOption


@dataclass(frozen=True)
class SystemShape:
    chips_per_rack: float
    chips_per_system: int

    @staticmethod
    def of(system: SystemSpec) -> SystemShape:
        racks = system.racks.value if system.racks is not None and system.racks.value > 0 else 1.0
        return SystemShape(system.chip_count / racks, system.chip_count)


def aggregated_config(e: Evaluation, p: CurvePoint, shape: SystemShape) -> Config:
    return Config(
        system=e.candidate.system,
        mode="aggregated",
        candidate=e.candidate,
        prefill=None,
        prefill_chip_share=0.0,
        concurrency_per_instance=p.concurrency_per_rank * e.attention_ranks,
        ttft_s=p.ttft_s,
        tpot_s=p.tpot_s,
        tokens_per_s_per_chip=p.tokens_per_s_per_chip,
        power_w_per_chip=p.power_w_per_chip,
        price_per_chip_hour_usd=e.price_per_chip_hour_usd,
        price_basis=e.price_basis,
        compute_format=e.moe_gemm_format,
        memory_used_fraction=p.memory_used_bytes / e.hbm_bytes_per_device,
        weight_bytes_per_device=e.weight_bytes_per_device,
        prefill_bound=e.prefill_breakdown.bound if e.prefill_breakdown else "",
        decode_bound=p.decode_bound,
        chips_per_rack=shape.chips_per_rack,
        chips_per_system=shape.chips_per_system,
        notes=e.notes,
    )


@dataclass(frozen=True)
class PrefillChoice:
    evaluation: Evaluation
    option: PrefillOption


def prefill_ranking(evals: Sequence[Evaluation], slo: Slo) -> list[PrefillChoice]:
    """Prefill pools whose TTFT meets the limit, most prompt tokens/s per chip first (ties: fewer chips)."""
    ttft_only = Slo(ttft_s=slo.ttft_s, p99=slo.p99)
    choices = [
        PrefillChoice(e, opt)
        for e in evals
        if e.fits and not e.candidate.mtp
        for opt in e.prefill
        if ttft_only.met(opt.ttft_s, 0.0)
    ]
    choices.sort(key=lambda c: (-c.option.prompt_tokens_per_s_per_chip, c.evaluation.candidate.chips))
    return choices


def disaggregated_config(e: Evaluation, p: CurvePoint, pre: PrefillChoice, w: Workload, shape: SystemShape) -> Config:
    decode_rate = p.decode_tokens_per_s_per_chip / max(w.osl, 1.0)  # requests/s per decode chip
    prefill_rate = pre.option.prompt_tokens_per_s_per_chip / max(w.isl, 1.0)  # requests/s per prefill chip
    r = decode_rate / prefill_rate  # prefill chips per decode chip
    power = (p.decode_power_w_per_chip + r * pre.option.power_w_per_chip) / (1.0 + r)
    notes = tuple(dict.fromkeys((*e.notes, *pre.evaluation.notes)))
    return Config(
        system=e.candidate.system,
        mode="disaggregated",
        candidate=e.candidate,
        prefill=pre.evaluation.candidate,
        prefill_chip_share=r / (1.0 + r),
        concurrency_per_instance=p.concurrency_per_rank * e.attention_ranks,
        ttft_s=pre.option.ttft_s + p.decode_tpot_s,
        tpot_s=p.decode_tpot_s,
        tokens_per_s_per_chip=p.decode_tokens_per_s_per_chip / (1.0 + r),
        power_w_per_chip=power,
        price_per_chip_hour_usd=e.price_per_chip_hour_usd,
        price_basis=e.price_basis,
        compute_format=e.moe_gemm_format,
        memory_used_fraction=p.memory_used_bytes / e.hbm_bytes_per_device,
        weight_bytes_per_device=e.weight_bytes_per_device,
        prefill_bound=pre.option.bound,
        decode_bound=p.decode_bound,
        chips_per_rack=shape.chips_per_rack,
        chips_per_system=shape.chips_per_system,
        notes=notes,
    )


def compose(
    evals: Sequence[Evaluation],
    w: Workload,
    modes: Sequence[str],
    shape: SystemShape,
    prefill: Sequence[PrefillChoice],
    max_chips: int,
) -> list[Config]:
    """Every config of every feasible evaluation in the requested modes (`prefill`: `prefill_ranking`)."""
    out: list[Config] = []
    feasible = [e for e in evals if e.fits]
    if "aggregated" in modes:
        out.extend(aggregated_config(e, p, shape) for e in feasible for p in e.points)
    if "disaggregated" in modes:
        for e in feasible:
            room = max_chips - e.candidate.chips
            pre = next((c for c in prefill if c.evaluation.candidate.chips <= room), None)
            if pre is None:
                continue
            out.extend(disaggregated_config(e, p, pre, w, shape) for p in e.points)
    return out


def instance_counts(c: Config, budget: int) -> tuple[int, int]:
    """(prefill, decode) instances within `budget` chips whose prefill share of chips is closest to the
    balanced one (more chips breaking ties); (0, instances) for aggregated."""
    if c.prefill is None:
        return 0, max(1, budget // c.candidate.chips)
    cp, cd = c.prefill.chips, c.candidate.chips
    target = c.prefill_chip_share
    best, best_key = (1, 1), (float("inf"), 0)
    for n_d in range(1, max(1, (budget - cp) // cd) + 1):
        ideal = target / max(1.0 - target, 1e-9) * n_d * cd / cp
        for n_p in {max(1, int(ideal)), max(1, int(ideal) + 1)}:
            if n_p * cp + n_d * cd > budget:
                continue
            key = (abs(n_p * cp / (n_p * cp + n_d * cd) - target), -(n_p * cp + n_d * cd))
            if key < best_key:
                best, best_key = (n_p, n_d), key
    return best


def with_notes(c: Config, *extra: str) -> Config:
    return replace(c, notes=tuple(dict.fromkeys((*c.notes, *extra))))
