"""Vectorised evaluation: many batch shapes of one deployment at once (the planner's inner loop).

The op list is built once with array-valued shapes (ops.Num) and costed element-wise with the same
formulas as the scalar path (`cost.op_time`), so the two agree exactly; only the bound classification
and per-op breakdown are left to the scalar path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from modelchip.perf.analytic import Workload, prefill_cost_per_token
from modelchip.perf.cost import op_time
from modelchip.perf.ops import StepShape, step_ops
from modelchip.perf.step import host_launch_s, supports_two_batch_overlap
from modelchip.perf.target import Target

Array = npt.NDArray[np.float64]


def _schedule_time(t: Target, shape: StepShape, overlap: bool) -> Array:
    run = replace(shape, sequences=shape.sequences / 2) if overlap else shape
    compute = np.zeros(np.shape(shape.sequences))
    comm = np.zeros(np.shape(shape.sequences))
    kernels = 0.0
    for op in step_ops(t, run):
        kernels += float(op.count)
        if op.kind == "comm":
            comm = comm + op_time(t, op) * op.count
        else:
            compute = compute + op_time(t, op) * op.count
    if not overlap:
        body = np.maximum(compute + comm, host_launch_s(t, kernels))
        return np.asarray(body + t.engine.step_overhead_s, dtype=np.float64)
    compute, comm = 2 * compute, 2 * comm
    hidden = t.overlap_efficiency * np.minimum(compute, comm)
    body = np.maximum(compute + comm - hidden, host_launch_s(t, 2 * kernels))
    return np.asarray(body + t.engine.step_overhead_s, dtype=np.float64)


def step_times(t: Target, shape: StepShape) -> Array:
    """Step time for every element of an array-valued shape (same rules as `step.step_time`)."""
    plain = _schedule_time(t, shape, overlap=False)
    if not supports_two_batch_overlap(t):
        return plain
    return np.minimum(plain, _schedule_time(t, shape, overlap=True))


def decode_step_times(
    t: Target, batch_per_rank: npt.ArrayLike, context: npt.ArrayLike, context_spread: float = 0.0
) -> Array:
    """Decode step times; `batch_per_rank` and `context` broadcast against each other."""
    b, c = np.broadcast_arrays(np.asarray(batch_per_rank, dtype=np.float64), np.asarray(context, dtype=np.float64))
    new = 1.0 + t.speculation.draft_tokens
    shape = StepShape(
        "decode", np.maximum(b, 1e-9) / t.layout.pp, np.full(b.shape, new), c.astype(np.float64), context_spread
    )
    return step_times(t, shape)


@dataclass(frozen=True)
class AggregatedGrid:
    concurrency_per_rank: Array
    tpot_s: Array
    ttft_s: Array
    output_tokens_per_s_per_chip: Array


def aggregated_grid(t: Target, w: Workload, concurrency_per_rank: npt.ArrayLike) -> AggregatedGrid:
    """`analytic.aggregated_point` for an array of concurrencies (one prefill-cost evaluation)."""
    c = np.maximum(np.asarray(concurrency_per_rank, dtype=np.float64), 1e-6)
    tps = t.speculation.tokens_per_step()
    cycle = decode_step_times(t, c, w.mean_context, w.context_spread) * t.layout.pp
    per_token = prefill_cost_per_token(t, w)
    t_mix = cycle + c * tps / max(w.osl, 1.0) * w.new_prompt_tokens * per_token
    per_chip = c * tps / t_mix / (t.layout.chips / t.attention_ranks)
    return AggregatedGrid(c, t_mix / tps, w.new_prompt_tokens * per_token + t_mix, per_chip)
