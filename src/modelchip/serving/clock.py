"""The simulator's clock: step times of one instance from the performance model, memoised on a grid.

A decode step for `n` running sequences spread over the attention ranks costs the step of the busiest
rank, ceil(n / ranks) sequences, at the batch's mean context, with the attention-DP imbalance of the
sampled requests' context spread (`perf.analytic.sampled_context_spread`). Its time is taken from
`perf.analytic.decode_step` at grid points (every batch up to 64, then 16 points per doubling; contexts
at powers of sqrt(2)) and interpolated linearly: decode time is close to linear in both between grid
points (weights read once per step plus KV read per token, the roofline of a memory-bound step).
Prefill adds each admitted prompt token at the large-chunk marginal cost of its prompt length
(`perf.analytic.prefill_cost_per_token`, memoised per prompt-length bucket), as in chunked prefill.
"""

from __future__ import annotations

import math

from modelchip.perf import analytic as an
from modelchip.perf.memory import kv_transfer_s, memory_plan, require_fit
from modelchip.perf.target import Target

EXACT_BATCH = 64
BATCH_STEPS_PER_DOUBLING = 16
CONTEXT_STEPS_PER_DOUBLING = 2
PROMPT_STEPS_PER_DOUBLING = 4
MIN_CONTEXT = 16.0


def _geometric(x: float, steps: int) -> tuple[int, int, float]:
    """Grid indices below/above x on a log2 grid with `steps` per doubling, and the weight of the upper."""
    k = math.log2(x) * steps
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return lo, hi, 0.0
    x_lo, x_hi = 2.0 ** (lo / steps), 2.0 ** (hi / steps)
    return lo, hi, (x - x_lo) / (x_hi - x_lo)


class StepClock:
    """Memoised step and transfer times of one instance (a `Target`)."""

    context_sync_steps = 0
    """attention DP: steps a new prompt may wait for every rank to have one (the engine's ADP balance)."""

    def __init__(self, t: Target, reference_context: float, context_spread: float = 0.0) -> None:
        self.target = t
        self.context_spread = context_spread
        if t.attention_ranks > 1:
            self.context_sync_steps = t.engine.attention_dp_context_sync_steps
        self.ranks = t.attention_ranks
        self.pp = t.layout.pp
        self.tokens_per_step = t.speculation.tokens_per_step()
        self.tokens_in_flight = 1 + t.speculation.draft_tokens
        self.overhead_s = t.engine.step_overhead_s
        self.reserve_full_length = t.engine.kv_reservation == "full_length"
        plan = memory_plan(t, max(reference_context, 1.0))
        require_fit(t, plan)
        self.kv_bytes_per_token = plan.kv_bytes_per_sequence / max(reference_context, 1.0)
        self.kv_capacity_tokens = self.ranks * plan.kv_budget_bytes / self.kv_bytes_per_token
        self._decode: dict[tuple[bool, int, int], float] = {}
        self._prefill: dict[tuple[int, int], float] = {}

    def _decode_at(self, geometric: bool, kb: int, kc: int) -> float:
        key = (geometric, kb, kc)
        hit = self._decode.get(key)
        if hit is None:
            batch = 2.0 ** (kb / BATCH_STEPS_PER_DOUBLING) if geometric else float(kb)
            context = 2.0 ** (kc / CONTEXT_STEPS_PER_DOUBLING)
            hit = an.decode_step(self.target, batch, context, self.context_spread).time_s * self.pp
            self._decode[key] = hit
        return hit

    def decode_s(self, running: int, mean_context: float) -> float:
        """One decode step (all pipeline stages) for `running` sequences at `mean_context` tokens."""
        per_rank = max(1, -(-running // self.ranks))
        c0, c1, wc = _geometric(max(mean_context, MIN_CONTEXT), CONTEXT_STEPS_PER_DOUBLING)
        geometric = per_rank > EXACT_BATCH
        if geometric:
            b0, b1, wb = _geometric(float(per_rank), BATCH_STEPS_PER_DOUBLING)
        else:
            b0, b1, wb = per_rank, per_rank, 0.0
        low = self._decode_at(geometric, b0, c0)
        if wc:
            low += wc * (self._decode_at(geometric, b0, c1) - low)
        if not wb:
            return low
        high = self._decode_at(geometric, b1, c0)
        if wc:
            high += wc * (self._decode_at(geometric, b1, c1) - high)
        return low + wb * (high - low)

    def prefill_token_s(self, prompt_tokens: int, cached_tokens: int) -> float:
        """Seconds per computed prompt token for a prompt of `prompt_tokens` with a cached prefix."""
        hit = round(100 * cached_tokens / max(prompt_tokens, 1))
        k0, k1, w = _geometric(max(float(prompt_tokens), 1.0), PROMPT_STEPS_PER_DOUBLING)
        lo = self._prefill_at(k0, hit)
        return lo + w * (self._prefill_at(k1, hit) - lo) if w else lo

    def _prefill_at(self, k: int, hit_percent: int) -> float:
        key = (k, hit_percent)
        value = self._prefill.get(key)
        if value is None:
            isl = 2.0 ** (k / PROMPT_STEPS_PER_DOUBLING)
            value = an.prefill_cost_per_token(self.target, an.Workload(isl, 1.0, min(hit_percent / 100.0, 0.99)))
            self._prefill[key] = value
        return value

    def step_s(self, decoding: int, mean_context: float, prefill_s: float) -> float:
        """A mixed step: the decode step plus the admitted prefill work. A prefill-only step still reads
        the weights once (it costs at least a one-sequence decode step)."""
        if decoding > 0:
            return self.decode_s(decoding, mean_context) + prefill_s
        return max(prefill_s + self.overhead_s, self.decode_s(1, MIN_CONTEXT))

    def transfer_s(self, tokens: int) -> float:
        """KV transfer of one sequence to another instance (`perf.memory.kv_transfer_s`)."""
        return kv_transfer_s(self.target, float(tokens))
