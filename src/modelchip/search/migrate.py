"""`migrate`: "we lose chip A: what replaces it, and how many?"

The current deployment is planned on the source system within its chip count (the best config under
the SLO by throughput per chip); its throughput is that of the whole instances that fit in those
chips. For each candidate system, the best config under the same SLO gives the chips needed to match
it (whole instances, rounded up), with all-in power, cost per hour and the caveats that decide
whether the move is practical: number formats the chip runs converted (no FP8 on Ascend 910C: INT8),
the software stack and its CUDA compatibility, and catalog numbers that are estimates or unverified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from modelchip.catalog.loader import Catalog, load_catalog
from modelchip.catalog.schema import ChipSpec
from modelchip.errors import UserError
from modelchip.search.compose import instance_counts
from modelchip.search.config import Config
from modelchip.search.plan import Evaluator, PlanRequest, PlanResult, plan, serial_evaluator

# Systems tried when --to is not given: one per chip generation that can hold a large model.
DEFAULT_TARGETS: tuple[str, ...] = (
    "hgx-h20",
    "hgx-h800",
    "hgx-h100",
    "hgx-h200",
    "hgx-b200",
    "gb200-nvl72",
    "amd-mi300x-8",
    "amd-mi325x-8",
    "atlas-800t-a2",
    "atlas-800-a3",
    "cloudmatrix384",
    "metax-supernode-128",
)


@dataclass(frozen=True)
class Replacement:
    system: str
    plan: PlanResult
    config: Config | None
    chips: int
    """chips needed to match the source throughput (whole instances)."""
    systems: int
    """systems (boxes, racks, supernodes) those chips occupy."""
    throughput_tokens_per_s: float
    power_kw: float
    cost_per_hour_usd: float | None
    caveats: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class MigrateResult:
    source: PlanResult
    source_chips: int
    source_throughput_tokens_per_s: float
    source_power_kw: float
    source_cost_per_hour_usd: float | None
    replacements: tuple[Replacement, ...]


def deployed_throughput(c: Config, chips: int) -> tuple[float, int]:
    """(output tokens/s, chips used) of whole instances of `c` within `chips`."""
    if c.prefill is None:
        used = (chips // c.candidate.chips) * c.candidate.chips
    else:
        n_p, n_d = instance_counts(c, chips)
        used = n_p * c.prefill.chips + n_d * c.candidate.chips
    return c.tokens_per_s_per_chip * used, used


def chips_to_match(c: Config, throughput: float) -> int:
    """Whole instances of `c` (prefill+decode groups when disaggregated) giving at least `throughput`."""
    unit = c.chips_per_instance
    per_unit = c.tokens_per_s_per_chip * unit
    return max(1, math.ceil(throughput / per_unit - 1e-9)) * unit


def caveats(chip: ChipSpec, c: Config | None) -> tuple[str, ...]:
    out: list[str] = list(c.notes) if c is not None else []
    sw = chip.software
    if sw.cuda_compatibility != "native":
        out.append(
            f"software: {sw.stack} (CUDA compatibility: {sw.cuda_compatibility}); engines: {', '.join(sw.engines)}"
        )
    shaky = [
        name
        for name, q in (
            ("memory capacity", chip.memory.capacity_bytes),
            ("HBM bandwidth", chip.memory.bandwidth_bytes_per_s),
            ("TDP", chip.tdp_w),
        )
        if q is not None and q.confidence in ("E", "U")
    ]
    peaks = [f for f in chip.compute.native_formats() if (q := getattr(chip.compute, f)) and q.confidence in "EU"]
    if shaky or peaks:
        out.append(f"catalog estimates (E/U) for {', '.join([*shaky, *(p + ' peak' for p in peaks)])}")
    return tuple(out)


def _replacement(base: PlanRequest, system: str, target: float, cat: Catalog, evaluator: Evaluator) -> Replacement:
    size = cat.system(system).chip_count
    r = plan(replace(base, system=system, space=replace(base.space, max_chips=size)), evaluator)
    chip = cat.chip(cat.system(system).chip)
    c = r.best
    if c is None:
        return Replacement(system, r, None, 0, 0, 0.0, 0.0, None, caveats(chip, None), r.error())
    chips = chips_to_match(c, target)
    cost = c.price_per_chip_hour_usd * chips if c.price_per_chip_hour_usd is not None else None
    return Replacement(
        system=system,
        plan=r,
        config=c,
        chips=chips,
        systems=math.ceil(chips / size),
        throughput_tokens_per_s=c.tokens_per_s_per_chip * chips,
        power_kw=c.power_w_per_chip * chips / 1000.0,
        cost_per_hour_usd=cost,
        caveats=caveats(chip, c),
    )


def migrate(
    base: PlanRequest,
    chips: int,
    targets: Sequence[str] | None = None,
    evaluator: Evaluator = serial_evaluator,
    on_system: Callable[[str], None] | None = None,
) -> MigrateResult:
    """`base.system` is the source; its plan uses at most `chips` chips."""
    if chips < 1:
        raise UserError(f"--chips must be >= 1 (got {chips})")
    cat = load_catalog()
    names = [t for t in (targets or DEFAULT_TARGETS) if t != base.system and (targets or t in cat.systems)]
    for name in names:
        cat.system(name)
    if on_system is not None:
        on_system(base.system)
    source = plan(replace(base, space=replace(base.space, max_chips=chips)), evaluator)
    if source.best is None:
        raise UserError(source.error() or f"nothing runs on {base.system}")
    throughput, used = deployed_throughput(source.best, chips)
    c = source.best
    reps = []
    for name in names:
        if on_system is not None:
            on_system(name)
        reps.append(_replacement(base, name, throughput, cat, evaluator))
    reps.sort(key=lambda r: (r.config is None, r.power_kw))
    cost = c.price_per_chip_hour_usd * used if c.price_per_chip_hour_usd is not None else None
    return MigrateResult(source, used, throughput, c.power_w_per_chip * used / 1000.0, cost, tuple(reps))
