"""Steady-state serving metrics from step times (no event simulation): decode pools, prefill pools,
aggregated continuous batching with chunked prefill, offline maximum throughput, and Poisson load.

Aggregated steady state (the model used by analytical planners such as aiconfigurator): with c
requests per attention rank all decoding, each step emits c x tokens_per_step tokens, so requests
finish at c x tps / osl per step and the same number of prompts (isl x (1 - prefix hit) tokens each)
must be prefilled inside the step (chunked prefill). A mixed step therefore costs
T_mix(c) = T_decode(c) + P(c) x t_prefill_token, where t_prefill_token is the per-token cost of a
large prefill chunk (compute-bound). TPOT = T_mix / tps; a request's TTFT is its own prefill plus
the wait for the running step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelchip.perf.memory import memory_plan
from modelchip.perf.ops import StepShape
from modelchip.perf.step import StepResult, step_time
from modelchip.perf.target import Target

PREFILL_CHUNK_TOKENS = 8192  # tokens per prefill chunk when timing the marginal prefill cost
P99_TPOT_FACTOR = 1.25  # p99 / mean TPOT under Poisson load (E: step-time spread from mixed prefill)
P99_TTFT_FACTOR = 3.0  # p99 / mean TTFT (E: between deterministic (1x) and exponential (4.6x) waits)
# Guard on the running batch per attention rank (E): above the engines' defaults (TensorRT-LLM
# max_batch_size 2048), so that KV memory, not this cap, is what binds in the model.
MAX_RUNNING_PER_RANK = 4096.0


@dataclass(frozen=True)
class Workload:
    isl: float
    osl: float
    prefix_hit: float = 0.0
    osl_cv: float = 0.0
    """coefficient of variation (std / mean) of output lengths: 0 for fixed-length benchmarks."""

    @property
    def new_prompt_tokens(self) -> float:
        return self.isl * (1.0 - self.prefix_hit)

    @property
    def mean_context(self) -> float:
        """Mean KV length of the sequences in a running batch.

        One request's context grows from isl to isl + osl, isl + osl / 2 on average. A running batch
        holds requests in proportion to how long they decode (length-biased sampling, as in renewal
        theory's inspection paradox), so the batch mean is isl + E[osl^2] / (2 E[osl])
        = isl + osl (1 + cv^2) / 2: with natural, widely spread output lengths (cv ~ 1) the batch's
        KV is longer than with fixed lengths.
        """
        return self.isl + self.osl * (1.0 + self.osl_cv**2) / 2.0

    @property
    def full_context(self) -> float:
        """Mean full length (prompt + whole output) of the requests in a running batch: what an engine that
        reserves a request's KV up front holds per sequence. Length-biased, as `mean_context`:
        isl + E[osl^2] / E[osl] = isl + osl (1 + cv^2)."""
        return self.isl + self.osl * (1.0 + self.osl_cv**2)

    @property
    def context_spread(self) -> float:
        """std / mean of the per-sequence context across a running batch.

        A sequence seen in the batch is a length-biased draw L of the output lengths at a uniform point
        U of its decode, so its context is isl + U L with E[U L] = E[L^2] / (2 E[L]) and
        E[(U L)^2] = E[L^3] / (3 E[L]). For lognormal lengths of mean m and spread cv,
        E[L^k] = m^k (1 + cv^2)^(k(k-1)/2); fixed lengths (cv = 0) give the uniform spread m / sqrt(12).
        """
        s = 1.0 + self.osl_cv**2
        variance = self.osl**2 * (s**3 / 3.0 - s**2 / 4.0)
        return math.sqrt(max(variance, 0.0)) / max(self.mean_context, 1.0)


def sampled_context_spread(isl: npt.ArrayLike, osl: npt.ArrayLike) -> float:
    """`Workload.context_spread` of sampled request lengths: each request weighs in the running batch
    in proportion to its output length, at context isl + U osl (E[(a + U b)^2] = a^2 + a b + b^2 / 3)."""
    a, b = np.asarray(isl, dtype=np.float64), np.asarray(osl, dtype=np.float64)
    weight = b.sum()
    if weight <= 0:
        return 0.0
    mean = float((b * (a + b / 2.0)).sum() / weight)
    second = float((b * (a * a + a * b + b * b / 3.0)).sum() / weight)
    return math.sqrt(max(second - mean * mean, 0.0)) / max(mean, 1.0)


@dataclass(frozen=True)
class OperatingPoint:
    """One steady state of an instance."""

    concurrency_per_rank: float
    step: StepResult
    step_time_s: float
    """mixed step including prefill work."""
    tpot_s: float
    ttft_s: float
    output_tokens_per_s_per_chip: float
    requests_per_s_per_instance: float

    @property
    def tokens_per_s_per_user(self) -> float:
        return 1.0 / self.tpot_s


def decode_step(t: Target, batch_per_rank: float, context: float, context_spread: float = 0.0) -> StepResult:
    """One decode step for `batch_per_rank` sequences per attention rank (per pipeline micro-batch);
    `context_spread` (std / mean of the sequences' contexts) sets the attention-DP imbalance."""
    new = 1.0 + t.speculation.draft_tokens
    shape = StepShape("decode", max(batch_per_rank, 1e-9) / t.layout.pp, new, context, context_spread)
    return step_time(t, shape)


def prefill_step(t: Target, tokens_per_rank: float, prompt_len: float, prefix: float = 0.0) -> StepResult:
    """One prefill step over `tokens_per_rank` prompt tokens made of prompts of `prompt_len` new tokens."""
    sequences = max(tokens_per_rank / max(prompt_len, 1.0), 1e-9) / t.layout.pp
    return step_time(t, StepShape("prefill", sequences, prompt_len, prefix))


def prefill_cost_per_token(t: Target, w: Workload) -> float:
    """Marginal seconds per prompt token inside large chunks (step overhead excluded)."""
    chunk = max(PREFILL_CHUNK_TOKENS, w.new_prompt_tokens)
    step = prefill_step(t, chunk, w.new_prompt_tokens, w.isl - w.new_prompt_tokens)
    return (step.time_s - step.overhead_s) * t.layout.pp / chunk


def _chips_per_rank(t: Target) -> float:
    return t.layout.chips / t.attention_ranks


def decode_pool(
    t: Target, batch_per_rank: float, context: float, context_spread: float = 0.0
) -> tuple[float, float, StepResult]:
    """(tpot_s, output tokens/s per chip, step) of a decode-only pool."""
    step = decode_step(t, batch_per_rank, context, context_spread)
    tps = t.speculation.tokens_per_step()
    cycle = step.time_s * t.layout.pp
    return cycle / tps, batch_per_rank * tps / cycle / _chips_per_rank(t), step


def prefill_pool(t: Target, tokens_per_rank: float, w: Workload) -> tuple[float, StepResult]:
    """(prompt tokens/s per chip, step) of a prefill-only pool; prefix hits count as served tokens.

    The step is one pipeline stage over one of pp micro-batches, so the batch clears in pp x step."""
    step = prefill_step(t, tokens_per_rank * (1 - w.prefix_hit), w.new_prompt_tokens, w.isl - w.new_prompt_tokens)
    return tokens_per_rank / (step.time_s * t.layout.pp) / _chips_per_rank(t), step


def prefill_latency_s(t: Target, step: StepResult) -> float:
    """Time for a prefill step's prompts to pass through every pipeline stage."""
    return step.time_s * t.layout.pp


def aggregated_point(t: Target, concurrency_per_rank: float, w: Workload) -> OperatingPoint:
    c = max(concurrency_per_rank, 1e-6)
    tps = t.speculation.tokens_per_step()
    step = decode_step(t, c, w.mean_context, w.context_spread)
    per_token = prefill_cost_per_token(t, w)
    cycle = step.time_s * t.layout.pp
    prefill_tokens = c * tps / max(w.osl, 1.0) * w.new_prompt_tokens
    t_mix = cycle + prefill_tokens * per_token
    tpot = t_mix / tps
    ttft = w.new_prompt_tokens * per_token + t_mix
    per_chip = c * tps / t_mix / _chips_per_rank(t)
    e2e = ttft + max(w.osl - 1, 0) * tpot
    return OperatingPoint(c, step, t_mix, tpot, ttft, per_chip, c * t.attention_ranks / e2e)


def admission_context(t: Target, w: Workload) -> float:
    """KV tokens the engine holds per running sequence when deciding what fits: the current context
    (blocks allocated as it grows), or the whole prompt + output where the engine reserves it up front."""
    return w.full_context if t.engine.kv_reservation == "full_length" else w.mean_context


def max_concurrency_per_rank(t: Target, w: Workload, engine_cap: float = MAX_RUNNING_PER_RANK) -> float:
    """Largest running batch per rank whose KV cache fits (at the engine's admission context), capped by
    the engine."""
    plan = memory_plan(t, admission_context(t, w))
    return max(0.0, min(plan.max_sequences_per_rank, engine_cap))


def closed_loop(t: Target, concurrency_per_instance: float, w: Workload) -> OperatingPoint:
    """Closed loop: `concurrency` requests in flight; the running batch is capped by memory."""
    per_rank = concurrency_per_instance / t.attention_ranks
    cap = max_concurrency_per_rank(t, w)
    return aggregated_point(t, min(per_rank, cap) if cap >= 1 else per_rank, w)


def offline(t: Target, w: Workload) -> OperatingPoint:
    """MLPerf Offline: the best throughput over batch sizes that fit."""
    cap = max_concurrency_per_rank(t, w)
    if cap < 1:
        return aggregated_point(t, 1.0, w)
    candidates = sorted({max(1.0, cap * f) for f in (1.0, 0.75, 0.5, 0.25)})
    points = [aggregated_point(t, c, w) for c in candidates]
    return max(points, key=lambda p: p.output_tokens_per_s_per_chip)


def capacity_requests_per_s(t: Target, w: Workload, instances: int = 1) -> float:
    """Requests/s that `instances` copies of `t` serve at most: the offline (largest-batch) rate."""
    return offline(t, w).requests_per_s_per_instance * instances


def at_request_rate(t: Target, rate_per_instance: float, w: Workload) -> OperatingPoint | None:
    """Steady state at a Poisson arrival rate (mean latencies); None if the rate exceeds capacity."""
    best = offline(t, w)
    if rate_per_instance >= best.requests_per_s_per_instance:
        return None
    lo, hi = 1e-3, best.concurrency_per_rank
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        if aggregated_point(t, mid, w).requests_per_s_per_instance < rate_per_instance:
            lo = mid
        else:
            hi = mid
    point = aggregated_point(t, hi, w)
    # Poisson arrivals wait for the running step to end (half a step on average) and queue for prefill
    # capacity: an M/D/1 wait rho / (2 (1 - rho)) prefill service times at utilisation rho = rate / capacity.
    rho = rate_per_instance / best.requests_per_s_per_instance
    service = w.new_prompt_tokens * prefill_cost_per_token(t, w)
    wait = point.step_time_s / 2 + rho / (2 * (1 - rho)) * max(service, point.step_time_s)
    wait += held_prompt_wait_s(t, rate_per_instance, point.step_time_s)
    return OperatingPoint(
        point.concurrency_per_rank,
        point.step,
        point.step_time_s,
        point.tpot_s,
        point.ttft_s + wait,
        point.output_tokens_per_s_per_chip,
        point.requests_per_s_per_instance,
    )


def held_prompt_wait_s(t: Target, rate_per_instance: float, step_s: float) -> float:
    """Mean extra wait of a prompt held back to start in a group: attention-DP context sync (below) or an
    engine that starts prompts only once `min_queued_prompts` wait (AMD's MLPerf vLLM scheduler). The j-th
    of n Poisson arrivals waits for n - j more, (n - 1) / 2 inter-arrival times on average."""
    group = t.engine.min_queued_prompts
    held = (group - 1) / (2.0 * rate_per_instance) if group > 1 and rate_per_instance > 0 else 0.0
    return max(held, context_sync_wait_s(t, rate_per_instance, step_s))


def context_sync_wait_s(t: Target, rate_per_instance: float, step_s: float) -> float:
    """Mean extra wait of a prompt under attention-DP context sync (TensorRT-LLM ADP balance): prompts
    start in groups of one per rank, so the j-th of n arrivals waits for n - j more, (n - 1) / 2 Poisson
    inter-arrival times on average, and never longer than the engine's step timeout."""
    ranks, steps = t.attention_ranks, t.engine.attention_dp_context_sync_steps
    if ranks <= 1 or steps == 0 or rate_per_instance <= 0:
        return 0.0
    return min((ranks - 1) / (2.0 * rate_per_instance), steps * step_s)


def best_under_slo(
    t: Target, w: Workload, ttft_s: float | None, tpot_s: float | None, p99: bool = False
) -> OperatingPoint | None:
    """Highest-throughput steady state meeting mean (or p99) TTFT/TPOT limits; None if none does."""
    cap = max_concurrency_per_rank(t, w)
    if cap < 1:
        return None
    f_ttft, f_tpot = (P99_TTFT_FACTOR, P99_TPOT_FACTOR) if p99 else (1.0, 1.0)

    def ok(p: OperatingPoint) -> bool:
        return (ttft_s is None or p.ttft_s * f_ttft <= ttft_s) and (tpot_s is None or p.tpot_s * f_tpot <= tpot_s)

    grid = [cap * (0.5**k) for k in range(0, 16) if cap * (0.5**k) >= 0.25]
    feasible = [p for p in (aggregated_point(t, c, w) for c in grid) if ok(p)]
    if not feasible:
        return None
    best = max(feasible, key=lambda p: p.output_tokens_per_s_per_chip)
    lo, hi = best.concurrency_per_rank, min(cap, best.concurrency_per_rank * 2)
    for _ in range(20):
        mid = (lo + hi) / 2
        if ok(aggregated_point(t, mid, w)):
            lo = mid
        else:
            hi = mid
    return aggregated_point(t, lo, w)
