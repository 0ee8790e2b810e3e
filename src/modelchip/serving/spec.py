"""What to simulate: engine settings, pools of identical instances, the workload, routing and SLOs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelchip.errors import UserError
from modelchip.perf import analytic as an
from modelchip.perf.target import Target
from modelchip.workload.arrivals import Gamma, Poisson
from modelchip.workload.slo import Slo
from modelchip.workload.spec import WorkloadSpec, generate

from .router import ROUTERS


@dataclass(frozen=True)
class EngineConfig:
    """Continuous-batching limits of one engine instance (vLLM/SGLang scheduler settings), per attention
    rank so that attention-DP instances scale with their ranks."""

    max_running_per_rank: int = 1024
    """max_num_seqs: sequences in the running batch (decoding or mid-prefill)."""
    max_batched_tokens_per_rank: int = 8192
    """max_num_batched_tokens: decode tokens plus prefill chunk tokens per step."""
    block_tokens: int = 16
    """paged-KV block size; a sequence holds ceil(tokens / block) blocks."""
    chunked_prefill: bool = True
    """True: prefill chunks share steps with decodes (vLLM V1, SGLang, TensorRT-LLM). False: vLLM V0's
    default scheduler, where waiting prompts run whole in a prefill-only step that pauses every decode."""
    scheduler_steps: int = 1
    """vLLM V0 multi-step scheduling (num_scheduler_steps): a decode batch runs this many steps before the
    scheduler runs again, so new prompts start only at the end of such a run (vllm-project/vllm #7000)."""
    min_queued_prompts: int = 0
    """while sequences decode, waiting prompts start only once this many are queued (0: as they come)."""


def engine_for(t: Target, max_running_per_rank: int, max_batched_tokens_per_rank: int) -> EngineConfig:
    """Engine limits as given, with the scheduler of the target's engine profile (chunked prefill or not,
    steps per scheduler pass)."""
    return EngineConfig(
        max_running_per_rank,
        max_batched_tokens_per_rank,
        chunked_prefill=t.engine.chunked_prefill,
        scheduler_steps=t.engine.scheduler_steps,
        min_queued_prompts=t.engine.min_queued_prompts,
    )


def step_budget_under(
    t: Target, prompt_tokens: float, tpot_limit_s: float, cap: int = EngineConfig.max_batched_tokens_per_rank
) -> int:
    """The most tokens per step (decode tokens plus prefill chunk) whose step fits a TPOT limit.

    Deployments tuned for a TPOT limit size the engine's token budget (TensorRT-LLM max_num_tokens,
    vLLM/SGLang max_num_batched_tokens / chunked_prefill_size) so that a step carrying a full prefill
    chunk still meets the limit: a larger budget lets one step stall every decoding request past it.
    NVIDIA's MLPerf v5.1 Llama-2-70B configs (as submitted by Nebius) show it: H200 Interactive 256 and
    Server 1536 tokens, B200 Interactive 768 and Server 3584, where this rule gives about 256, 1650, 730
    and 4600 from the model's own step times. At most `cap` (the engine default). A limit that not even
    a one-token step meets cannot be met by any budget, so none is tuned to it: `cap`. With pipeline
    parallelism the chunk's time on one stage is what must fit (NVIDIA's B200 Llama-3.1-405B TP2 PP2
    Interactive config sets 1536 tokens per micro-batch, looser still); counting all pp stages would
    give a third of that."""

    def fits(tokens: float) -> bool:
        return an.prefill_step(t, tokens, prompt_tokens).time_s <= tpot_limit_s

    if fits(cap) or not fits(1):
        return cap
    lo, hi = 1, cap
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


@dataclass(frozen=True)
class PoolSpec:
    """`instances` identical copies of one deployment (`target`)."""

    target: Target
    instances: int = 1
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def chips(self) -> int:
        return self.instances * self.target.layout.chips


@dataclass(frozen=True)
class SimulationSpec:
    """An aggregated deployment (`pool` only) or a disaggregated one (`prefill_pool` feeds `pool`, which
    then only decodes, after the KV cache moves over the scale-out network)."""

    pool: PoolSpec
    workload: WorkloadSpec
    prefill_pool: PoolSpec | None = None
    router: str = "least-load"
    slo: Slo = field(default_factory=Slo)
    seed: int = 0

    @property
    def chips(self) -> int:
        return self.pool.chips + (self.prefill_pool.chips if self.prefill_pool else 0)

    @property
    def disaggregated(self) -> bool:
        return self.prefill_pool is not None


def check_spec(spec: SimulationSpec) -> None:
    if spec.router not in ROUTERS:
        raise UserError(f"unknown router '{spec.router}'; choose one of {', '.join(ROUTERS)}")
    for name, pool in (("--instances", spec.pool), ("--prefill-workers", spec.prefill_pool)):
        if pool is None:
            continue
        if pool.instances < 1:
            raise UserError(f"{name} must be >= 1 (got {pool.instances})")
        e = pool.engine
        if e.max_running_per_rank < 1 or e.max_batched_tokens_per_rank < 1 or e.block_tokens < 1:
            raise UserError("--max-batch, --max-batched-tokens and the KV block size must be >= 1")
        if e.scheduler_steps < 1:
            raise UserError(f"--scheduler-steps must be >= 1 (got {e.scheduler_steps})")
        if e.min_queued_prompts < 0:
            raise UserError(f"--min-queued-prompts must be >= 0 (got {e.min_queued_prompts})")


def offered_load(spec: SimulationSpec) -> float | None:
    """An open-loop arrival rate over the analytical capacity of an aggregated deployment (the request
    rate at the largest batch that fits, `perf.analytic.offline`, with the run's mean lengths and output
    spread); None for closed loops, trace times and disaggregated pools. Near 1 the latencies swing with
    capacity differences of a few percent; past 1 the queue grows for as long as the run lasts."""
    arrival = spec.workload.arrival
    if spec.disaggregated or not isinstance(arrival, (Poisson, Gamma)):
        return None
    osl = generate(spec.workload, np.random.default_rng(spec.seed)).osl.astype(np.float64)
    w = an.Workload(
        isl=spec.workload.mean_isl,
        osl=float(osl.mean()),
        prefix_hit=spec.workload.prefix_hit,
        osl_cv=float(osl.std() / osl.mean()) if osl.mean() > 0 else 0.0,
    )
    capacity = an.capacity_requests_per_s(spec.pool.target, w, spec.pool.instances)
    return arrival.rate_per_s / capacity if capacity > 0 else None
