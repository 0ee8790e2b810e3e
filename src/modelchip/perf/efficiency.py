"""Efficiency parameters (fractions of datasheet peak) per chip family and serving-engine behaviour.

Kept as data in perf/data/*.yaml with a source per number (kernels.md); loaded once, frozen.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from modelchip.fileio import parse_model, read_structured

FP4_FORMATS = frozenset({"nvfp4", "mxfp4"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FamilyEfficiency(_Frozen):
    chips: tuple[str, ...]
    gemm: dict[str, float]
    gemm_source: str
    attention_prefill: float = Field(gt=0, le=1)
    attention_prefill_source: str
    attention_decode_memory: float = Field(gt=0, le=1)
    attention_decode_compute: float = Field(gt=0, le=1)
    attention_decode_fp8_kv_per_fp32: float | None = Field(default=None, gt=0)
    """MLA decode over an FP8 latent cache is dequantisation-bound on the CUDA cores (kernels.md 2): its
    attention FLOP/s per FP32 (CUDA-core) FLOP/s of the chip; None = no such bound."""
    attention_decode_source: str
    memory: float = Field(gt=0, le=1)
    memory_source: str
    memory_fp4_gemm: float | None = Field(default=None, gt=0, le=1)
    """share of HBM bandwidth at which FP4 GEMMs stream their weights (memory-bound, small M); None =
    `memory`, as for every other format."""
    memory_fp4_gemm_source: str = ""
    scale_up: float = Field(gt=0, le=1)
    scale_up_source: str
    scale_out: float = Field(gt=0, le=1)
    scale_out_source: str

    def gemm_memory_efficiency(self, fmt: str) -> float:
        """Share of HBM bandwidth a GEMM in `fmt` streams its weights and activations at."""
        if fmt in FP4_FORMATS and self.memory_fp4_gemm is not None:
            return self.memory_fp4_gemm
        return self.memory

    def gemm_efficiency(self, fmt: str) -> float:
        """Large-shape GEMM efficiency in `fmt` (formats without a measurement use the BF16 figure)."""
        return self.gemm.get(fmt, self.gemm.get("bf16", 0.6))


class EfficiencyTable(_Frozen):
    families: dict[str, FamilyEfficiency]
    gemm_m_half: float = Field(gt=0)
    gemm_m_half_source: str
    gemm_m_half_fp4: float = Field(gt=0)
    gemm_m_half_fp4_source: str
    weight_only_gemm: float = Field(gt=0, le=1)
    """weight-only GEMMs (weights stored narrower than the math, unpacked in the main loop: W4A16) reach this
    share of the math format's GEMM efficiency."""
    weight_only_gemm_source: str
    gemm_k_half: float = Field(gt=0)
    gemm_k_half_reference_flops: float = Field(gt=0)
    """the FP8 peak per device (FLOP/s) of the chip gemm_k_half was measured on; k_half scales with it."""
    gemm_k_reference: float = Field(gt=0)
    """the reduction length at which the families' `gemm` figures were measured."""
    gemm_k_half_source: str

    def for_chip(self, chip_id: str) -> FamilyEfficiency:
        for family in self.families.values():
            if chip_id in family.chips:
                return family
        return self.families["default"]

    def family_name(self, chip_id: str) -> str:
        return next((name for name, f in self.families.items() if chip_id in f.chips), "default")


class EngineProfile(_Frozen):
    step_overhead_s: float = Field(ge=0)
    kernel_overhead_s: float = Field(ge=0)
    eager_launch_s: float = Field(default=0.0, ge=0)
    """host time to launch one op without CUDA/HIP graphs (0: graphs replay the step)."""
    two_batch_overlap: bool
    two_batch_overlap_across_nodes_only: bool = False
    """True: the engine's deployments split micro-batches only where expert parallelism leaves the scale-up
    domain (RDMA), not inside one NVLink/UB domain."""
    two_batch_overlap_source: str = ""
    source: str
    attention_dp_context_sync_steps: int = Field(default=0, ge=0)
    """attention DP: new prompts wait until every rank has one, for at most this many steps (0: off)."""
    attention_dp_context_sync_source: str = ""
    kv_reservation: Literal["current", "full_length"] = "current"
    """KV admission: `current` blocks are allocated as a sequence grows (vLLM, SGLang; preempt when full);
    `full_length` reserves a request's prompt plus its maximum output before it starts (TensorRT-LLM's
    default GUARANTEED_NO_EVICT capacity scheduler), so fewer requests run at once."""
    kv_reservation_source: str = ""
    chunked_prefill: bool = True
    """False: waiting prompts run whole in prefill-only steps that pause the decodes (vLLM V0's default)."""
    scheduler_steps: int = Field(default=1, ge=1)
    """vLLM V0 multi-step scheduling: decode steps per scheduler pass (new prompts start between runs)."""
    min_queued_prompts: int = Field(default=0, ge=0)
    """while sequences decode, waiting prompts start only once this many are queued (0: as they come)."""
    scheduler_source: str = ""


class EngineTable(_Frozen):
    engines: dict[str, EngineProfile]
    overlap_efficiency: float = Field(ge=0, le=1)
    overlap_efficiency_source: str
    moe_imbalance: float = Field(ge=1)
    moe_imbalance_source: str

    def profile(self, engine: str | None) -> EngineProfile:
        key = (engine or "default").lower()
        return self.engines.get(key, self.engines["default"])


def _data_path(name: str) -> Path:
    return Path(str(resources.files("modelchip.perf") / "data" / name))


@lru_cache(maxsize=1)
def efficiency_table() -> EfficiencyTable:
    path = _data_path("efficiency.yaml")
    return parse_model(EfficiencyTable, read_structured(path), str(path))


@lru_cache(maxsize=1)
def engine_table() -> EngineTable:
    path = _data_path("engines.yaml")
    return parse_model(EngineTable, read_structured(path), str(path))
