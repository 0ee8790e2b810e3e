"""`predict`: TTFT, TPOT, throughput, memory, energy and bounds of one deployment (typed API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from modelchip.deploy.layout import Layout
from modelchip.errors import UserError
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target
from modelchip.perf.cost import Bound, device_peak, fp8_kv_mla_dequant_rate
from modelchip.perf.efficiency import efficiency_table, engine_table
from modelchip.perf.energy import Energy, energy
from modelchip.perf.memory import MemoryPlan, memory_plan, require_fit
from modelchip.perf.step import StepResult, engine_overlaps_experts, supports_two_batch_overlap
from modelchip.perf.target import Speculation, Target

Mode = Literal["aggregated", "prefill", "decode"]


@dataclass(frozen=True)
class PredictRequest:
    model: str
    hardware: str
    system: str | None = None
    layout: Layout = field(default_factory=Layout)
    precision: PrecisionRequest = field(default_factory=PrecisionRequest)
    isl: float = 1024
    osl: float = 256
    batch: float = 64
    """aggregated: requests in flight per instance; decode: running batch per instance; prefill: prompts per step."""
    mode: Mode = "aggregated"
    speculation: Speculation = field(default_factory=Speculation)
    engine: str | None = None
    prefix_hit: float = 0.0
    price_per_chip_hour: float | None = None
    osl_cv: float = 0.0
    """spread (std / mean) of output lengths; a real dataset's spread lengthens the batch's mean KV."""


@dataclass(frozen=True)
class PhaseReport:
    step_time_s: float
    bound: Bound
    top_ops: list[tuple[str, float, Bound]]
    tokens_per_step: float


@dataclass(frozen=True)
class Prediction:
    request: PredictRequest
    target: Target
    ttft_s: float
    tpot_s: float
    output_tokens_per_s_per_chip: float
    output_tokens_per_s_per_user: float
    input_tokens_per_s_per_chip: float
    chips: int
    memory: MemoryPlan
    energy: Energy
    prefill: PhaseReport
    decode: PhaseReport
    notes: tuple[str, ...]


def _phase(step: StepResult) -> PhaseReport:
    return PhaseReport(step.time_s, step.bound, step.top_ops(5), float(step.shape.tokens))


def _check_request(req: PredictRequest) -> None:
    for name, value in (("--isl", req.isl), ("--osl", req.osl), ("--batch", req.batch)):
        if not value > 0:
            raise UserError(f"{name} must be > 0 (got {value:g})")
    if not 0.0 <= req.prefix_hit < 1.0:
        raise UserError(f"prefix hit rate must be in [0, 1) (got {req.prefix_hit:g})")
    if not req.osl_cv >= 0.0:
        raise UserError(f"--osl-cv must be >= 0 (got {req.osl_cv:g}); 0 = fixed lengths, ~1 = a real dataset")


def two_batch_overlap_note(t: Target) -> list[str]:
    """Say whether the expert exchange is overlapped with compute (a modelling choice per engine)."""
    if not engine_overlaps_experts(t):
        return []
    if supports_two_batch_overlap(t):
        return [
            f"{t.engine_name} splits each step into two micro-batches whose expert exchange overlaps the other's"
            " compute (two-batch overlap), where that is faster"
        ]
    return [
        f"{t.engine_name} runs without two-batch overlap here: expert parallelism {t.layout.ep} stays inside one"
        " scale-up domain, where its deployments leave it off (it hides RDMA exchanges across nodes)"
    ]


def predict(req: PredictRequest) -> Prediction:
    _check_request(req)
    t = build_target(req.model, req.hardware, req.layout, req.precision, req.system, req.engine, req.speculation)
    w = an.Workload(req.isl, req.osl, req.prefix_hit, req.osl_cv)
    plan = memory_plan(t, an.admission_context(t, w))
    require_fit(t, plan)
    ranks = t.attention_ranks
    chips_per_rank = t.layout.chips / ranks
    # Attention-DP sends each prompt whole to one rank: at least one prompt per rank's prefill step.
    # A prefill pool's step holds the whole batch; in the other modes a request's TTFT is its own prompt.
    prompts_rank = max(req.batch / ranks, 1.0) if req.mode == "prefill" else 1.0
    prefill_step = an.prefill_step(t, prompts_rank * w.new_prompt_tokens, w.new_prompt_tokens, req.isl * req.prefix_hit)
    notes = list(t.precision.notes)
    known = engine_table().engines
    if req.engine and t.engine_name not in known:
        notes.append(
            f"engine {req.engine!r} has no profile; the default one is used (profiles: {', '.join(sorted(known))})"
        )
    if t.engine.kv_reservation == "full_length":
        notes.append(
            f"{t.engine_name} reserves KV for each request's whole prompt + output ({w.full_context:.0f} tokens)"
            " before it starts (GUARANTEED_NO_EVICT): sequences that fit are counted at that length"
        )
    if t.engine.eager_launch_s > 0:
        notes.append(
            f"{t.engine_name} runs eagerly: a step takes at least its kernel launches"
            f" ({t.engine.eager_launch_s * 1e6:.0f} us each)"
        )
    scheduling = [] if t.engine.chunked_prefill else ["runs prompts whole in prefill-only steps"]
    if t.engine.scheduler_steps > 1:
        scheduling.append(f"starts them only between {t.engine.scheduler_steps}-step decode runs")
    if scheduling:
        notes.append(
            f"{t.engine_name} {' and '.join(scheduling)}; the wait this adds to TTFT is simulated by"
            " `modelchip simulate`, not counted here"
        )
    notes.extend(fp8_kv_mla_note(t))
    notes.extend(two_batch_overlap_note(t))
    if req.mode == "aggregated":
        point = an.closed_loop(t, req.batch, w)
        if point.concurrency_per_rank * ranks < req.batch - 1e-6:
            notes.append(
                f"batch {req.batch:g} exceeds the KV capacity; capped at {point.concurrency_per_rank * ranks:.0f}"
            )
        ttft, tpot, per_chip, decode = point.ttft_s, point.tpot_s, point.output_tokens_per_s_per_chip, point.step
        step_for_energy = decode
    elif req.mode == "decode":
        tpot, per_chip, decode = an.decode_pool(t, req.batch / ranks, w.mean_context)
        ttft, step_for_energy = an.prefill_latency_s(t, prefill_step), decode
    else:
        decode = an.decode_step(t, req.batch / ranks, w.mean_context)
        ttft = an.prefill_latency_s(t, prefill_step)
        tpot = decode.time_s * t.layout.pp / t.speculation.tokens_per_step()
        per_chip = 0.0
        step_for_energy = prefill_step
    # Prompt tokens a chip serves per second: a prefill pool's own rate; in aggregated serving the
    # prompts of the requests it completes; a decode pool serves none (its prompts arrive prefilled).
    input_rates = {
        "prefill": prompts_rank * req.isl / an.prefill_latency_s(t, prefill_step) / chips_per_rank,
        "aggregated": per_chip * req.isl / max(req.osl, 1.0),
        "decode": 0.0,
    }
    input_rate = input_rates[req.mode]
    rate_for_energy = per_chip if req.mode != "prefill" else input_rate
    return Prediction(
        request=req,
        target=t,
        ttft_s=ttft,
        tpot_s=tpot,
        output_tokens_per_s_per_chip=per_chip,
        output_tokens_per_s_per_user=1.0 / tpot,
        input_tokens_per_s_per_chip=input_rate,
        chips=t.layout.chips,
        memory=plan,
        energy=energy(t, step_for_energy, rate_for_energy, req.price_per_chip_hour),
        prefill=_phase(prefill_step),
        decode=_phase(decode),
        notes=tuple(notes),
    )


def fp8_kv_mla_note(t: Target) -> list[str]:
    """Blackwell's FP8-cache MLA decode rate is FlashMLA's, below the BF16-cache rate, which the MLPerf cases
    fit where the engines' own kernels measure FP8 faster (README, Performance model): a BF16 cache can then
    rank faster, so say which rate is modelled, whichever cache this deployment holds."""
    fp8_cache = fp8_kv_mla_dequant_rate(t)
    has_mla = any(layer.attention.kind == "mla" for layer, _ in t.model.layer_groups())
    if fp8_cache is None or not has_mla or not efficiency_table().family_name(t.chip.id).startswith("blackwell"):
        return []
    bf16_cache = device_peak(t, "bf16") * t.efficiency.attention_decode_compute
    if fp8_cache >= bf16_cache:
        return []
    return [
        f"MLA decode over an FP8 cache is modelled at {fp8_cache / 1e12:.0f} TFLOPS per device, FlashMLA's"
        " dequantisation-bound rate (350 on a B200, other Blackwell parts by their measured clock ratio; the rate"
        " NVIDIA's MLPerf v5.1 DeepSeek-R1 runs fit best), below"
        f" the {bf16_cache / 1e12:.0f} of a BF16 cache, so a BF16 cache can come out faster here; TensorRT-LLM's"
        " trtllm-gen kernel measures ~590 TFLOPS on B200 even at 16 heads (vLLM PR 41778) and SGLang's GB200 runs"
        " measure FP8 attention 1.8x faster than BF16, so with those kernels an FP8 cache decodes faster than"
        " this says"
    ]
