"""A deployment at one operating point (`Config`), the objectives it is ranked by, SLOs, and the
Pareto frontier of throughput per chip against tokens/s per user (the industry's standard chart:
SemiAnalysis InferenceMAX, NVIDIA's "AI factory" curves)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from modelchip.perf.analytic import P99_TPOT_FACTOR, P99_TTFT_FACTOR
from modelchip.search.space import Candidate


@dataclass(frozen=True)
class Slo:
    ttft_s: float | None = None
    tpot_s: float | None = None
    p99: bool = False
    """limits are p99 (mean x perf.analytic's p99 factors) rather than means."""

    def excess(self, ttft_s: float, tpot_s: float) -> float:
        """max over limits of (value / limit); <= 1 means the SLO is met."""
        f_ttft, f_tpot = (P99_TTFT_FACTOR, P99_TPOT_FACTOR) if self.p99 else (1.0, 1.0)
        out = 0.0
        if self.ttft_s is not None:
            out = max(out, ttft_s * f_ttft / self.ttft_s)
        if self.tpot_s is not None:
            out = max(out, tpot_s * f_tpot / self.tpot_s)
        return out

    def met(self, ttft_s: float, tpot_s: float) -> bool:
        return self.excess(ttft_s, tpot_s) <= 1.0 + 1e-9

    def describe(self) -> str:
        kind = "p99 " if self.p99 else ""
        parts = []
        if self.ttft_s is not None:
            parts.append(f"{kind}TTFT <= {self.ttft_s * 1e3:g} ms")
        if self.tpot_s is not None:
            parts.append(f"{kind}TPOT <= {self.tpot_s * 1e3:g} ms")
        return " / ".join(parts) or "no SLO"


@dataclass(frozen=True)
class Config:
    """One deployment at one operating point, with everything the tables and reports show."""

    system: str
    mode: str
    """aggregated or disaggregated."""
    candidate: Candidate
    """the aggregated instance, or the decode instance of a disaggregated pair."""
    prefill: Candidate | None
    prefill_chip_share: float
    """share of chips in the prefill pool (disaggregated), 0 otherwise."""
    concurrency_per_instance: float
    ttft_s: float
    tpot_s: float
    tokens_per_s_per_chip: float
    power_w_per_chip: float
    """all-in (host, network and cooling share from the catalog's system power)."""
    price_per_chip_hour_usd: float | None
    price_basis: str
    compute_format: str
    """the format expert (or dense) GEMMs run in on this chip, after any conversion."""
    memory_used_fraction: float
    """of HBM per device, on the decode (or aggregated) instance, at this batch."""
    weight_bytes_per_device: float
    prefill_bound: str
    decode_bound: str
    chips_per_rack: float
    chips_per_system: int
    notes: tuple[str, ...] = ()
    instances: tuple[int, int] = (0, 1)
    """(prefill, decode) instances of a disaggregated config within the budget."""

    @property
    def tokens_per_s_per_user(self) -> float:
        return 1.0 / self.tpot_s

    @property
    def chips_per_instance(self) -> int:
        return self.candidate.chips + (self.prefill.chips if self.prefill else 0)

    def describe(self) -> str:
        """e.g. '64x dp64 ep64 nvfp4 mtp1', or '2x P[4x pp4 nvfp4] + 1x D[64x dp64 ep64 nvfp4]'."""
        text = describe_candidate(self.candidate)
        if self.prefill is not None:
            n_p, n_d = self.instances
            text = f"{n_p}x P[{describe_candidate(self.prefill)}] + {n_d}x D[{text}]"
        return text


def describe_layout(c: Candidate) -> str:
    lay = c.layout
    parts = [f"{k}{v}" for k, v in (("tp", lay.tp), ("pp", lay.pp), ("dp", lay.dp), ("ep", lay.ep)) if v > 1]
    if lay.moe_tp > 1 and lay.moe_tp != lay.tp:
        parts.append(f"moe_tp{lay.moe_tp}")
    return " ".join(parts) or "1 chip"


def describe_candidate(c: Candidate) -> str:
    mtp = f" mtp{c.mtp}" if c.mtp else ""
    kv = f" kv-{c.kv_cache}" if c.kv_cache != "bf16" else ""
    return f"{c.chips}x {describe_layout(c)} {c.weights}{kv}{mtp}"


@dataclass(frozen=True)
class Objective:
    name: str
    label: str
    unit: str
    value: Callable[[Config], float | None]


def _per_kw(c: Config) -> float:
    return c.tokens_per_s_per_chip / (c.power_w_per_chip / 1000.0)


def _per_dollar(c: Config) -> float | None:
    if c.price_per_chip_hour_usd is None or c.price_per_chip_hour_usd <= 0:
        return None
    return c.tokens_per_s_per_chip * 3600.0 / c.price_per_chip_hour_usd / 1e6


OBJECTIVES: dict[str, Objective] = {
    "chip": Objective("chip", "output tok/s per chip", "tok/s/chip", lambda c: c.tokens_per_s_per_chip),
    "kw": Objective("kw", "output tok/s per kW (all-in)", "tok/s/kW", _per_kw),
    "dollar": Objective("dollar", "million output tokens per dollar", "Mtok/$", _per_dollar),
    "rack": Objective(
        "rack", "output tok/s per rack", "tok/s/rack", lambda c: c.tokens_per_s_per_chip * c.chips_per_rack
    ),
    "system": Objective(
        "system", "output tok/s per system", "tok/s/system", lambda c: c.tokens_per_s_per_chip * c.chips_per_system
    ),
}


def objective_value(c: Config, objective: str) -> float:
    """The objective's value, or -inf where it is undefined (no price)."""
    v = OBJECTIVES[objective].value(c)
    return float("-inf") if v is None else v


T = TypeVar("T")


def pareto_front(items: Sequence[T], x: Callable[[T], float], y: Callable[[T], float]) -> list[T]:
    """Items not dominated in (x, y), both maximised, sorted by x ascending. Ties keep the first."""
    ranked = sorted(range(len(items)), key=lambda i: (-x(items[i]), -y(items[i]), i))
    front: list[T] = []
    best_y = float("-inf")
    for i in ranked:
        if y(items[i]) > best_y:
            front.append(items[i])
            best_y = y(items[i])
    return front[::-1]
