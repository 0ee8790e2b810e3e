"""A resolved deployment: model, chip, system, layout, precision and engine, checked and frozen."""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.catalog.schema import ChipSpec, SystemSpec
from modelchip.deploy.layout import Layout, complete_moe_layout, devices_per_chip, validate_layout
from modelchip.deploy.precision import PrecisionPlan
from modelchip.errors import UserError
from modelchip.models.schema import ModelSpec
from modelchip.perf.efficiency import EngineProfile, FamilyEfficiency, efficiency_table, engine_table


@dataclass(frozen=True)
class Speculation:
    """MTP / speculative decoding: `draft_tokens` proposed per step, each accepted with `acceptance`
    given that the previous one was (DeepSeek-V3 report sec. 5.4.3: 2nd-token acceptance 85-90%)."""

    draft_tokens: int = 0
    acceptance: float = 0.7

    def tokens_per_step(self) -> float:
        """Expected tokens emitted per decode step: 1 + a + a^2 + ... + a^d."""
        return 1.0 + sum(self.acceptance**i for i in range(1, self.draft_tokens + 1))


@dataclass(frozen=True)
class Target:
    model: ModelSpec
    chip: ChipSpec
    system: SystemSpec | None
    layout: Layout
    precision: PrecisionPlan
    engine_name: str
    engine: EngineProfile
    efficiency: FamilyEfficiency
    speculation: Speculation
    moe_imbalance: float
    gemm_m_half: float
    gemm_m_half_fp4: float
    weight_only_gemm: float
    gemm_k_half: float
    gemm_k_half_reference_flops: float
    gemm_k_reference: float
    overlap_efficiency: float

    @property
    def devices_per_chip(self) -> int:
        return devices_per_chip(self.layout, self.chip)

    @property
    def attention_ranks(self) -> int:
        """Independent attention groups per pipeline stage (each `tp` devices wide)."""
        return self.layout.dp * self.devices_per_chip


def make_target(
    model: ModelSpec,
    chip: ChipSpec,
    system: SystemSpec | None,
    layout: Layout,
    precision: PrecisionPlan,
    engine: str | None = None,
    speculation: Speculation | None = None,
) -> Target:
    """Validate the layout against the model and chip, and bind the efficiency data."""
    if system is not None and system.chip != chip.id:
        raise UserError(f"system '{system.id}' holds {system.chip}, not {chip.id}; pick a matching --hardware/--system")
    heads = max(layer.attention.num_heads for layer in model.layers)
    full = complete_moe_layout(layout, chip) if model.is_moe else layout
    validate_layout(full, heads, model.num_layers, model.is_moe, chip)
    # Without MTP layers in the checkpoint, a draft model is assumed as cheap as one decoder layer.
    spec = speculation or Speculation()
    table = efficiency_table()
    engines = engine_table()
    return Target(
        model=model,
        chip=chip,
        system=system,
        layout=full,
        precision=precision,
        engine_name=(engine or "default").lower(),
        engine=engines.profile(engine),
        efficiency=table.for_chip(chip.id),
        speculation=spec,
        moe_imbalance=engines.moe_imbalance,
        gemm_m_half=table.gemm_m_half,
        gemm_m_half_fp4=table.gemm_m_half_fp4,
        weight_only_gemm=table.weight_only_gemm,
        gemm_k_half=table.gemm_k_half,
        gemm_k_half_reference_flops=table.gemm_k_half_reference_flops,
        gemm_k_reference=table.gemm_k_reference,
        overlap_efficiency=engines.overlap_efficiency,
    )
