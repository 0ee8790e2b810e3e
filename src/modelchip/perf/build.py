"""Build a `Target` from ids and plain options (the shared front door of predict, validate and plan)."""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.catalog.loader import Catalog, load_catalog
from modelchip.catalog.schema import ChipSpec, SystemSpec
from modelchip.deploy.layout import Layout
from modelchip.deploy.precision import resolve_precision
from modelchip.errors import UserError
from modelchip.models.hf import load_model
from modelchip.models.schema import ModelSpec
from modelchip.perf.target import Speculation, Target, make_target


@dataclass(frozen=True)
class PrecisionRequest:
    weights: str | None = None
    """None: the model's native checkpoint format."""
    activations: str | None = None
    kv_cache: str | None = None
    moe: str | None = None
    attention: str | None = None
    """None: FP8 where the KV cache is FP8, else BF16."""


def resolve_hardware(
    hardware: str, system: str | None, catalog: Catalog | None = None
) -> tuple[ChipSpec, SystemSpec | None]:
    """A chip or system id, plus an optional system id; a bare chip gets its smallest catalog system."""
    cat = catalog or load_catalog()
    chip, sys_from_hw = cat.resolve(hardware)
    if system is not None:
        sys_spec = cat.system(system)
        if sys_spec.chip != chip.id:
            raise UserError(f"system '{system}' holds {sys_spec.chip}, not {chip.id}; fix --hardware or --system")
        return chip, sys_spec
    return chip, sys_from_hw or cat.default_system(chip.id)


def speculation_from(draft_tokens: int, acceptance: float | None, accept_length: float | None) -> Speculation:
    """MTP settings; an accept length (tokens per step) is turned into a per-draft acceptance."""
    if draft_tokens <= 0:
        return Speculation()
    if acceptance is None and accept_length is not None:
        acceptance = _acceptance_for_length(draft_tokens, accept_length)
    if acceptance is not None and not 0.0 <= acceptance <= 1.0:
        raise UserError(f"--acceptance must be within [0, 1] (got {acceptance})")
    # 0.7: CloudMatrix-Infer's planning value for DeepSeek MTP (kernels.md 5.3).
    return Speculation(draft_tokens, 0.7 if acceptance is None else acceptance)


def _acceptance_for_length(draft_tokens: int, accept_length: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if Speculation(draft_tokens, mid).tokens_per_step() < accept_length:
            lo = mid
        else:
            hi = mid
    return lo


def build_target(
    model: ModelSpec | str,
    hardware: str,
    layout: Layout,
    precision: PrecisionRequest | None = None,
    system: str | None = None,
    engine: str | None = None,
    speculation: Speculation | None = None,
) -> Target:
    spec = load_model(model) if isinstance(model, str) else model
    chip, sys_spec = resolve_hardware(hardware, system)
    req = precision or PrecisionRequest()
    plan = resolve_precision(
        chip,
        weights=req.weights or spec.native_weight_format,
        activations=req.activations,
        kv_cache=req.kv_cache,
        moe=req.moe,
        attention=req.attention,
    )
    return make_target(spec, chip, sys_spec, layout, plan, engine, speculation)
