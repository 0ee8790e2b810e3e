"""The search space of `plan`: which deployments of a model on a system are worth evaluating.

A candidate is one serving instance: chips, parallel layout, number formats, MTP and engine. The
running batch is not a dimension here: every candidate is evaluated along a concurrency grid
(`evaluate.py`), and the aggregated / disaggregated split is composed from the same evaluations
(`plan.py`). Layout rules follow the engines (vLLM, SGLang, TensorRT-LLM, CloudMatrix-Infer):
tensor parallelism divides the attention heads and stays inside one scale-up domain; MoE models
add attention data parallelism with expert parallelism over every device of a stage (DeepSeek's
DP+EP), or experts tensor-sharded with attention (moe_tp = tp); pipeline parallelism splits layers.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.catalog.schema import ChipSpec, SystemSpec
from modelchip.deploy.layout import Layout
from modelchip.deploy.precision import FORMAT_BYTES, resolve_precision
from modelchip.errors import UserError
from modelchip.models.schema import ModelSpec

# Engines in order of preference when the user names none: a chip's own supernode engine first,
# then the engines that implement two-batch overlap for expert parallelism (perf/data/engines.yaml).
ENGINE_PREFERENCE: tuple[str, ...] = ("cloudmatrix-infer", "sglang", "trtllm", "vllm", "mindie")
# Weight formats tried besides the checkpoint's own, when the chip computes them natively
# (post-training quantisation: FP8 per-block, INT8 W8A8, 4-bit floats with block scales).
QUANTISED_FORMATS: tuple[str, ...] = ("fp8", "int8", "nvfp4", "mxfp4")
MAX_PIPELINE = 4
MAX_TENSOR_PARALLEL = 16


@dataclass(frozen=True)
class SearchSpace:
    """What to enumerate; None means "what the model and hardware allow"."""

    max_chips: int | None = None
    """chips budget (default: the system's chip count)."""
    chip_counts: tuple[int, ...] | None = None
    """chips per instance to try (default: powers of two up to the budget)."""
    weight_formats: tuple[str, ...] | None = None
    kv_formats: tuple[str, ...] | None = None
    mtp: tuple[int, ...] | None = None
    """draft tokens to try (default: 0 and 1 where the model has MTP layers)."""
    engine: str | None = None
    max_tp: int = MAX_TENSOR_PARALLEL
    max_pp: int = MAX_PIPELINE
    modes: tuple[str, ...] = ("aggregated", "disaggregated")


@dataclass(frozen=True)
class Candidate:
    """One serving instance to evaluate (plain, picklable values only)."""

    system: str
    layout: Layout
    weights: str
    kv_cache: str
    mtp: int
    engine: str

    @property
    def chips(self) -> int:
        return self.layout.chips

    def key(self) -> str:
        lay = self.layout
        return (
            f"{self.system}|tp{lay.tp}.pp{lay.pp}.dp{lay.dp}.ep{lay.ep}.mtp{lay.moe_tp}|"
            f"{self.weights}|{self.kv_cache}|{self.mtp}|{self.engine}"
        )


def budget(space: SearchSpace, system: SystemSpec) -> int:
    if space.max_chips is not None and space.max_chips < 1:
        raise UserError(f"--max-chips must be >= 1 (got {space.max_chips})")
    # A budget beyond one system joins systems over the scale-out network (the perf model sends the
    # share of a group outside the scale-up domain over the NICs).
    return space.max_chips or system.chip_count


def chip_counts(space: SearchSpace, limit: int) -> list[int]:
    if space.chip_counts is not None:
        return sorted({n for n in space.chip_counts if 1 <= n <= limit})
    counts = [2**k for k in range(0, 20) if 2**k <= limit]
    return counts


def _heads(model: ModelSpec) -> int:
    return max(layer.attention.num_heads for layer in model.layers)


def _tp_ok(tp: int, heads: int, chip: ChipSpec, system: SystemSpec, space: SearchSpace) -> bool:
    if heads % tp and tp % heads:
        return False
    domain = system.scale_up.domain_size
    if chip.scale_up is not None and chip.scale_up.domain_size is not None:
        domain = min(domain, chip.scale_up.domain_size)
    return tp <= min(space.max_tp, domain)


def layouts(model: ModelSpec, chip: ChipSpec, system: SystemSpec, chips: int, space: SearchSpace) -> list[Layout]:
    """Layouts of `chips` chips per instance the model and topology allow (ep and moe_tp filled in)."""
    heads, out = _heads(model), []
    for pp in (p for p in (1, 2, 4, 8) if p <= space.max_pp and chips % p == 0 and p <= model.num_layers):
        for tp in (t for t in range(1, chips // pp + 1) if (chips // pp) % t == 0):
            if not _tp_ok(tp, heads, chip, system, space):
                continue
            dp = chips // pp // tp
            if not model.is_moe:
                if dp == 1:  # data parallelism of a dense model is just more instances
                    out.append(Layout(tp=tp, pp=pp))
                continue
            if pp > 1 and dp > 1:  # engines do not combine attention-DP with pipeline stages
                continue
            # Chips as devices: a multi-die package counts once (which dies software sees apart is not in
            # the catalog; per-die layouts are reachable with --ep on `predict`).
            out.append(Layout(tp=tp, pp=pp, dp=dp, ep=tp * dp))  # full expert parallelism
            if tp > 1:
                out.append(Layout(tp=tp, pp=pp, dp=dp, ep=dp, moe_tp=tp))  # experts sharded like attention
    return out


def weight_formats(model: ModelSpec, chip: ChipSpec, space: SearchSpace) -> list[str]:
    """The checkpoint format, plus one narrower format per storage width that the chip computes natively
    (FP8 or INT8 at 1 byte, NVFP4 or MXFP4 at ~0.5): what a deployment would quantise to."""
    if space.weight_formats is not None:
        return list(space.weight_formats)
    native = model.native_weight_format
    out: list[str] = []
    widths: set[float] = set()
    for fmt in [native, *QUANTISED_FORMATS]:
        if fmt != native and not (chip.compute.peak_flops(fmt) and FORMAT_BYTES[fmt] <= FORMAT_BYTES[native]):
            continue
        plan = resolve_precision(chip, weights=fmt)
        width = round(plan.moe_weight_bytes * 4) / 4
        if width not in widths:
            widths.add(width)
            out.append(fmt)
    return out


def kv_formats(chip: ChipSpec, space: SearchSpace) -> list[str]:
    if space.kv_formats is not None:
        return list(space.kv_formats)
    return ["bf16", "fp8"] if chip.compute.peak_flops("fp8") else ["bf16"]


def mtp_options(model: ModelSpec, space: SearchSpace) -> list[int]:
    if space.mtp is not None:
        return list(space.mtp)
    return [0, 1] if model.mtp_layers > 0 else [0]


def default_engine(chip: ChipSpec, space: SearchSpace) -> str:
    if space.engine:
        return space.engine.lower()
    listed = set(chip.software.engines)
    return next((e for e in ENGINE_PREFERENCE if e in listed), "default")


def enumerate_candidates(model: ModelSpec, chip: ChipSpec, system: SystemSpec, space: SearchSpace) -> list[Candidate]:
    """Every candidate of the space on one system, in a fixed order (results are order-independent)."""
    limit = budget(space, system)
    engine = default_engine(chip, space)
    fmts, kvs, mtps = weight_formats(model, chip, space), kv_formats(chip, space), mtp_options(model, space)
    out: list[Candidate] = []
    for n in chip_counts(space, limit):
        for lay in layouts(model, chip, system, n, space):
            for w in fmts:
                for kv in kvs:
                    out.extend(Candidate(system.id, lay, w, kv, m, engine) for m in mtps)
    return out
