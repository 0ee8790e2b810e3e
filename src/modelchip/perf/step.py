"""Step time of one forward pass: op costs summed per layer, communication overlapped where the engine
does it, plus the engine's host overhead per step.

Two-batch overlap (DeepSeek profile-data, kernels.md 6): the batch is split into two micro-batches
and one's dispatch/combine runs under the other's compute, so a step costs
compute + comm - h x min(compute, comm) of the two halves, with h the measured share that overlap
hides (engines.yaml `overlap_efficiency`); at small batches the halves re-read the weights and the
overlap loses (LMSYS: -27% at 32 tokens/GPU), which this formulation reproduces rather than assumes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from modelchip.perf.cost import Bound, OpCost, fabrics, op_cost
from modelchip.perf.ops import StepShape, step_ops
from modelchip.perf.target import Target


@dataclass(frozen=True)
class StepResult:
    time_s: float
    compute_s: float
    """time of compute and memory ops."""
    comm_s: float
    """communication time (before overlap)."""
    exposed_comm_s: float
    overhead_s: float
    """host/scheduler time per step plus kernel-launch floors."""
    bound: Bound
    costs: tuple[OpCost, ...]
    shape: StepShape
    overlapped: bool

    def top_ops(self, n: int = 5) -> list[tuple[str, float, Bound]]:
        """The n ops that take the most time in this step: (name, seconds per step, bound)."""
        per_name: dict[str, float] = defaultdict(float)
        bound_of: dict[str, Bound] = {}
        for c in self.costs:
            per_name[c.op.name] += c.total_s
            bound_of[c.op.name] = c.bound
        ranked = sorted(per_name.items(), key=lambda kv: -kv[1])[:n]
        return [(name, secs, bound_of[name]) for name, secs in ranked]


def _sums(costs: list[OpCost]) -> tuple[float, float, dict[Bound, float]]:
    compute = comm = 0.0
    by_bound: dict[Bound, float] = defaultdict(float)
    for c in costs:
        if c.op.kind == "comm":
            comm += c.total_s
        else:
            compute += c.total_s
        by_bound[c.bound] += c.total_s
    return compute, comm, by_bound


def host_launch_s(t: Target, kernels: float) -> float:
    """The host's time to launch a step's kernels one by one, for an engine that runs without CUDA/HIP
    graphs (`eager_launch_s` per op; 0 for graph replay). Launches are asynchronous, so the GPU runs
    behind them and the step takes the longer of its GPU work and this."""
    return t.engine.eager_launch_s * kernels


def engine_overlaps_experts(t: Target) -> bool:
    """The engine implements two-batch overlap and the deployment has an expert exchange to hide."""
    return t.engine.two_batch_overlap and t.layout.ep > 1


def supports_two_batch_overlap(t: Target) -> bool:
    """Two-batch overlap hides the expert exchange of EP deployments, where the engine turns it on."""
    if not engine_overlaps_experts(t):
        return False
    scale_up, _ = fabrics(t)
    return not t.engine.two_batch_overlap_across_nodes_only or t.layout.ep > scale_up.domain_devices


def _run(t: Target, shape: StepShape, overlap: bool) -> StepResult:
    run_shape = replace(shape, sequences=shape.sequences / 2) if overlap else shape
    costs = [op_cost(t, op) for op in step_ops(t, run_shape)]
    if overlap:
        # Each op runs once per micro-batch: count both, so totals and bounds are per full step.
        costs = [OpCost(replace(c.op, count=2 * c.op.count), c.time_s, c.bound) for c in costs]
    compute, comm, by_bound = _sums(costs)
    if overlap:
        hidden = t.overlap_efficiency * min(compute, comm)
        body = compute + comm - hidden
        exposed = comm - hidden
    else:
        body = compute + comm
        exposed = comm
    launches = host_launch_s(t, sum(c.op.count for c in costs))
    overhead = t.engine.step_overhead_s + max(launches - body, 0.0)  # launches the GPU work does not cover
    by_bound["communication"] = exposed
    by_bound["overhead"] = by_bound.get("overhead", 0.0) + overhead
    # a step whose GPU work waits on the host's launches is bound by them
    bound: Bound = "overhead" if launches > body else max(by_bound, key=lambda b: by_bound[b])
    return StepResult(body + overhead, compute, comm, exposed, overhead, bound, tuple(costs), shape, overlap)


def step_time(t: Target, shape: StepShape) -> StepResult:
    """Seconds for one forward step of `shape` on every attention rank of the instance.

    Engines that support two-batch overlap use it only when it pays (SGLang gates it on the batch's
    token count; LMSYS measured it losing below 64-128 tokens/GPU), so the step takes the faster of
    the two schedules; this also keeps step time monotone in the batch.
    """
    plain = _run(t, shape, overlap=False)
    if not supports_two_batch_overlap(t):
        return plain
    split = _run(t, shape, overlap=True)
    return split if split.time_s < plain.time_s else plain
