"""Number formats per tensor role, and how each runs on a given chip (native or converted).

Storage bytes per element follow shared/reference/formats.md section 5 (scale overheads included):
DeepSeek block FP8 1.000244, MXFP8 1.03125, MXFP4 0.53125, NVFP4 0.5625 (+ per-tensor scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.catalog.schema import ChipSpec
from modelchip.errors import UserError

FORMAT_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.000244,  # 128x128 blocks with one FP32 scale (formats.md 5)
    "fp8-ue8m0": 1.000244,  # power-of-two scales, same storage (formats.md 2.5)
    "hif8": 1.0,
    "int8": 1.0,
    "int4": 0.5 + 2.0 / 128,  # group-128 scales in BF16
    "mxfp8": 1.03125,
    "mxfp6": 0.78125,
    "mxfp4": 0.53125,
    "nvfp4": 0.5625,
}

# When a chip lacks a format's unit, the GEMM runs in the first native format of this chain
# (formats.md 5: FP8 checkpoints on Ascend 910B/910C are re-quantised to INT8, Huawei's route).
# FP4 weights without a 4-bit float unit run weight-only: the kernel unpacks them to BF16 inside the
# GEMM and the weights stay 4-bit in memory (vLLM: "Weight-only FP4 compression will be used leveraging
# the Marlin kernel", vllm-project/vllm issue 31085; TensorRT-LLM's TRITON MoE backend runs gpt-oss's
# MXFP4 experts on Hopper, its Performance Overview), not re-quantised to FP8 or INT8.
FALLBACK_CHAIN: dict[str, tuple[str, ...]] = {
    "nvfp4": ("nvfp4", "mxfp4", "bf16", "fp16"),
    "mxfp4": ("mxfp4", "nvfp4", "bf16", "fp16"),
    "mxfp6": ("mxfp6", "fp8", "int8", "bf16", "fp16"),
    "mxfp8": ("mxfp8", "fp8", "hif8", "int8", "bf16", "fp16"),
    "fp8": ("fp8", "mxfp8", "hif8", "int8", "bf16", "fp16"),
    "fp8-ue8m0": ("mxfp8", "fp8", "hif8", "int8", "bf16", "fp16"),
    "hif8": ("hif8", "fp8", "int8", "bf16", "fp16"),
    "int8": ("int8", "fp8", "bf16", "fp16"),
    "int4": ("int8", "fp8", "bf16", "fp16"),
    "bf16": ("bf16", "fp16"),
    "fp16": ("fp16", "bf16"),
}

# Storage that a chip can hold only if it computes the format natively; otherwise weights are
# re-quantised to the compute format (an FP8 checkpoint becomes INT8 on a 910C, 1 byte/param).
STORAGE_NEEDS_NATIVE = frozenset({"fp8", "fp8-ue8m0", "mxfp8", "hif8", "mxfp6"})


@dataclass(frozen=True)
class PrecisionPlan:
    """Requested formats per role and what the chip will actually run."""

    weights: str
    activations: str
    kv_cache: str
    moe: str
    attention: str
    gemm_format: str
    """format of dense GEMM math on this chip (native)."""
    moe_gemm_format: str
    attention_format: str
    weight_bytes: float
    moe_weight_bytes: float
    kv_bytes: float
    notes: tuple[str, ...] = ()


def _check_format(fmt: str, role: str) -> None:
    if fmt not in FORMAT_BYTES:
        raise UserError(f"unknown {role} precision '{fmt}'; use one of {', '.join(sorted(FORMAT_BYTES))}")


def native_gemm_format(chip: ChipSpec, requested: str) -> str:
    """The format a GEMM requested in `requested` runs in on `chip`.

    A unit slower than the chip's BF16 unit is passed over (B300/GB300 keep a vestigial INT8 at ~1/18
    of FP8, hardware.md section 1): no engine would run a narrower format slower than BF16.
    """
    bf16 = chip.compute.peak_flops("bf16") or 0.0
    for fmt in FALLBACK_CHAIN.get(requested, (requested,)):
        peak = chip.compute.peak_flops(fmt)
        if peak is not None and (peak >= bf16 or fmt in ("bf16", "fp16")):
            return fmt
    raise UserError(
        f"chip '{chip.id}' has no matrix unit for {requested} or any fallback; add compute.bf16 to its YAML"
    )


def is_weight_only(weight_bytes: float, gemm_format: str) -> bool:
    """Weights stored narrower than the GEMM's math format are unpacked inside the GEMM (W4A16: Marlin,
    Machete, TensorRT-LLM's TRITON MoE on Hopper) rather than fed to the MMAs as they are."""
    # A tolerance, not a measured figure: scale overheads (FP8 1.000244 against INT8 1.0 bytes) are not narrower.
    return weight_bytes < FORMAT_BYTES[gemm_format] * 0.99


def _storage_bytes(requested: str, compute_fmt: str) -> float:
    if requested in STORAGE_NEEDS_NATIVE and compute_fmt not in (requested, "fp8", "mxfp8"):
        return FORMAT_BYTES[compute_fmt]
    return FORMAT_BYTES[requested]


def _conversion_note(
    chip: ChipSpec, role: str, requested: str, actual: str, stored: str, stored_bytes: float
) -> str | None:
    weight_only = is_weight_only(stored_bytes, actual)
    unpacked = f"weight-only: the weights stay {stored} in memory and are unpacked inside the GEMM"
    if requested == actual or (requested == "fp8-ue8m0" and actual in ("fp8", "mxfp8")):
        return f"{role} GEMMs run in {actual}, {unpacked}" if weight_only else None
    note = f"{chip.id} has no native {requested}: {role} GEMMs run in {actual}"
    return f"{note}, {unpacked}" if weight_only else note


def resolve_precision(
    chip: ChipSpec,
    weights: str = "bf16",
    activations: str | None = None,
    kv_cache: str | None = None,
    moe: str | None = None,
    attention: str | None = None,
) -> PrecisionPlan:
    """Map requested formats onto the chip (defaults: activations follow weights, KV cache BF16 (FP8 for
    NVFP4 checkpoints), attention in the KV cache's format when that is FP8, else BF16)."""
    activations = activations or _default_activations(weights)
    # NVIDIA's NVFP4 checkpoints (ModelOpt, whose hf_ptq default is --kv_cache_qformat fp8) carry an FP8 KV
    # cache, and TensorRT-LLM takes it from hf_quant_config.json: DeepSeek-R1-0528-FP4 and
    # Llama-3.3-70B-Instruct-FP4 (TensorRT-LLM DeepSeek blog; its test asserts kv_cache_quant_algo FP8).
    kv_cache = kv_cache or ("fp8" if weights == "nvfp4" else "bf16")
    moe = moe or weights
    requested = ((weights, "weights"), (activations, "activations"), (kv_cache, "kv_cache"), (moe, "moe"))
    for fmt, role in (*requested, (attention, "attention")):
        if fmt is not None:
            _check_format(fmt, role)
    gemm = native_gemm_format(chip, _gemm_request(weights, activations))
    moe_request = _gemm_request(moe, _expert_activations(weights, moe, activations))
    moe_gemm = native_gemm_format(chip, moe_request)
    kv = kv_cache if kv_cache not in STORAGE_NEEDS_NATIVE or chip.compute.peak_flops("fp8") else "bf16"
    # Engines read an FP8 KV cache with FP8 attention kernels (FlashAttention-3 FP8, TensorRT-LLM's FP8
    # context FMHA and XQA, trtllm-gen MLA on Blackwell): queries are quantised and the matmuls run at the
    # FP8 rate. (FlashMLA's FP8 cache is dequantised to BF16 instead: the CUDA-core bound in perf/cost.py.)
    attention = attention or ("fp8" if kv == "fp8" else "bf16")
    attn = native_gemm_format(chip, attention)
    weight_bytes, moe_weight_bytes = _storage_bytes(weights, gemm), _storage_bytes(moe, moe_gemm)
    notes = [
        n
        for n in (
            _conversion_note(chip, "dense", _gemm_request(weights, activations), gemm, weights, weight_bytes),
            _conversion_note(chip, "MoE expert", moe_request, moe_gemm, moe, moe_weight_bytes),
            None if kv == kv_cache else f"{chip.id} has no native {kv_cache}: KV cache stored in {kv}",
        )
        if n
    ]
    return PrecisionPlan(
        weights=weights,
        activations=activations,
        kv_cache=kv,
        moe=moe,
        attention=attention,
        gemm_format=gemm,
        moe_gemm_format=moe_gemm,
        attention_format=attn,
        weight_bytes=weight_bytes,
        moe_weight_bytes=moe_weight_bytes,
        kv_bytes=FORMAT_BYTES[kv],
        notes=tuple(notes),
    )


def _default_activations(weights: str) -> str:
    # 4-bit float weights run W4A4 on Blackwell/MI355X (the MLPerf submissions); INT4 is weight-only.
    return {"int4": "bf16", "nvfp4": "nvfp4", "mxfp4": "mxfp4"}.get(weights, weights)


def _expert_activations(weights: str, moe: str, activations: str) -> str:
    """Activations of the expert GEMMs. NVFP4 experts in a checkpoint whose other layers stay wider
    (SGLang's and TensorRT-LLM's DeepSeek NVFP4 paths, ModelOpt NVFP4 recipe) quantise their inputs to
    NVFP4 too (W4A4); otherwise the experts see the instance's activation format."""
    if moe == "nvfp4" and moe != weights:
        return "nvfp4"
    return activations


def _gemm_request(weights: str, activations: str) -> str:
    """The GEMM format implied by weight and activation formats: the wider of the two."""
    if FORMAT_BYTES[activations] >= 2.0 or FORMAT_BYTES[weights] >= 2.0:
        return "bf16"
    if weights in ("int4", "int8") and activations in ("int8", "bf16"):
        return "int8" if activations == "int8" else "bf16"
    if FORMAT_BYTES[activations] > FORMAT_BYTES[weights]:
        return activations
    return weights
