"""Turn candidate evaluations into deployments at operating points (`Config`s).

Aggregated: each grid point of each candidate is a config. Disaggregated (DistServe, OSDI 2024;
Splitwise, ISCA 2024): a decode pool at each grid point paired with the prefill pool that gives the
most prompt tokens/s per chip within the TTFT limit; the pools are sized so that prefill keeps up
with decode (prefill chips per decode chip = decode request rate / prefill request rate, per chip),
and the deployment's throughput is counted over the chips of both pools: whole instances of each
within the chips budget, the prefill pool at most RHO_MAX busy, its queueing wait added to TTFT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modelchip.catalog.schema import SystemSpec
from modelchip.perf.analytic import Workload
from modelchip.search.config import Config, Slo
from modelchip.search.evaluate import CurvePoint, Evaluation, PrefillOption

RHO_MAX = 0.9  # busiest a prefill pool is planned to run (M/D/1 wait 4.5 passes at 0.9)


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
        # pipeline stages are left to decode: disaggregated prefill pools run TP/DP/EP (DeepSeek, SGLang)
        if e.fits and not e.candidate.mtp and e.candidate.layout.pp == 1
        for opt in e.prefill
        if ttft_only.met(opt.ttft_s, 0.0)
    ]
    choices.sort(key=lambda c: (-c.option.prompt_tokens_per_s_per_chip, c.evaluation.candidate.chips))
    return choices


@dataclass(frozen=True)
class Mix:
    """Whole prefill and decode instances within the chips budget."""

    prefill_instances: int
    decode_instances: int
    prefill_utilisation: float
    tokens_per_s_per_chip: float
    """output tokens/s over the chips of both pools."""
    prefill_chip_share: float


def best_mixes(cd: int, cp: int, decode_rate: np.ndarray, prefill_rate: float, budget: int) -> list[Mix | None]:
    """For each decode request rate per chip, the instance mix with the most output per chip whose prefill pool
    runs at most RHO_MAX busy (requests/s per chip in, osl tokens each out: caller scales)."""
    n_d = np.arange(1, max(1, (budget - cp) // cd) + 1, dtype=np.float64)[None, :]
    demand = n_d * cd * decode_rate[:, None]  # requests/s the decode instances finish
    n_p = np.maximum(1.0, np.ceil(demand / (RHO_MAX * cp * prefill_rate) - 1e-12))
    ok = n_p * cp + n_d * cd <= budget
    per_chip = np.where(ok, demand / (n_p * cp + n_d * cd), -1.0)
    out: list[Mix | None] = []
    for i, j in enumerate(np.argmax(per_chip, axis=1)):
        if per_chip[i, j] <= 0:
            out.append(None)
            continue
        npi, ndj = int(n_p[i, j]), int(n_d[0, j])
        rho = float(demand[i, j] / (npi * cp * prefill_rate))
        out.append(Mix(npi, ndj, rho, float(per_chip[i, j]), npi * cp / (npi * cp + ndj * cd)))
    return out


def disaggregated_config(
    e: Evaluation, p: CurvePoint, pre: PrefillChoice, mix: Mix, w: Workload, shape: SystemShape
) -> Config:
    share = mix.prefill_chip_share
    power = p.decode_power_w_per_chip * (1 - share) + pre.option.power_w_per_chip * share
    # Prompts queue for the prefill pool: an M/D/1 wait of rho / (2 (1 - rho)) prefill passes.
    wait = mix.prefill_utilisation / (2 * (1 - mix.prefill_utilisation)) * pre.option.ttft_s
    notes = tuple(dict.fromkeys((*e.notes, *pre.evaluation.notes)))
    return Config(
        system=e.candidate.system,
        mode="disaggregated",
        candidate=e.candidate,
        prefill=pre.evaluation.candidate,
        prefill_chip_share=share,
        concurrency_per_instance=p.concurrency_per_rank * e.attention_ranks,
        ttft_s=pre.option.ttft_s + wait + p.decode_tpot_s,
        tpot_s=p.decode_tpot_s,
        tokens_per_s_per_chip=mix.tokens_per_s_per_chip * max(w.osl, 1.0),
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
        instances=(mix.prefill_instances, mix.decode_instances),
    )


def _disaggregated(e: Evaluation, pre: PrefillChoice, w: Workload, shape: SystemShape, budget: int) -> list[Config]:
    rates = np.array([p.decode_tokens_per_s_per_chip for p in e.points]) / max(w.osl, 1.0)
    p_rate = pre.option.prompt_tokens_per_s_per_chip / max(w.isl, 1.0)
    mixes = best_mixes(e.candidate.chips, pre.evaluation.candidate.chips, rates, p_rate, budget)
    return [disaggregated_config(e, p, pre, m, w, shape)
            for p, m in zip(e.points, mixes, strict=True) if m is not None]  # fmt: skip


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
            if pre is not None:
                out.extend(_disaggregated(e, pre, w, shape, max_chips))
    return out


def instance_counts(c: Config, budget: int) -> tuple[int, int]:
    """(prefill, decode) instances: the planned mix when disaggregated, (0, as many as fit) when aggregated."""
    if c.prefill is None:
        return 0, max(1, budget // c.candidate.chips)
    return c.instances
