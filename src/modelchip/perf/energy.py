"""Power draw under load, energy per token and cost per million tokens.

Chip power P = TDP x (IDLE_SHARE + (1 - IDLE_SHARE) x compute_share), where compute_share is the
fraction of step time spent in compute-bound ops. Anchors (kernels.md 7): memory-bound decode draws
20-43% of TDP on H200; throughput-saturated serving 74-97% (H100 680 W, B200 943 W). A system's
all-in power (host, network, cooling where published) scales the chip figure by
system power / (chips x TDP).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.perf.step import StepResult
from modelchip.perf.target import Target

IDLE_SHARE = 0.30
HOURS_PER_YEAR = 8760.0
AMORTISATION_YEARS = 4.0  # E: typical depreciation period of accelerator servers
ELECTRICITY_USD_PER_KWH = 0.10  # E: industrial tariff; override with --price-per-chip-hour


@dataclass(frozen=True)
class Energy:
    chip_power_w: float
    all_in_power_w_per_chip: float
    joules_per_token: float
    """all-in, per output token."""
    price_per_chip_hour_usd: float | None
    usd_per_million_tokens: float | None
    source: str


def compute_share(step: StepResult) -> float:
    busy = sum(c.total_s for c in step.costs if c.bound == "compute")
    return min(1.0, busy / step.time_s) if step.time_s > 0 else 0.0


def chip_power_w(t: Target, step: StepResult) -> float:
    tdp = t.chip.tdp_w.value if t.chip.tdp_w else 500.0
    return tdp * (IDLE_SHARE + (1 - IDLE_SHARE) * compute_share(step))


def _overhead_factor(t: Target) -> float:
    sys, chip = t.system, t.chip
    if sys is None or sys.power_w is None or chip.tdp_w is None:
        return 1.0
    return max(1.0, sys.power_w.value / (sys.chip_count * chip.tdp_w.value))


def default_price_per_chip_hour(t: Target, all_in_w: float) -> float | None:
    """Amortised list price plus electricity; None without a list price."""
    if t.chip.list_price_usd is None:
        return None
    capex = t.chip.list_price_usd.value / (AMORTISATION_YEARS * HOURS_PER_YEAR)
    return capex + all_in_w / 1000.0 * ELECTRICITY_USD_PER_KWH


def energy(t: Target, step: StepResult, tokens_per_s_per_chip: float, price_per_chip_hour: float | None) -> Energy:
    p_chip = chip_power_w(t, step)
    all_in = p_chip * _overhead_factor(t)
    price = price_per_chip_hour if price_per_chip_hour is not None else default_price_per_chip_hour(t, all_in)
    per_m = price / 3600.0 / tokens_per_s_per_chip * 1e6 if price is not None and tokens_per_s_per_chip > 0 else None
    src = "TDP x (0.3 + 0.7 x compute share), kernels.md 7; system overhead from the catalog's all-in power"
    return Energy(p_chip, all_in, all_in / max(tokens_per_s_per_chip, 1e-12), price, per_m, src)
