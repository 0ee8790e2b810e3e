"""Performance model, hand-computed: one op, one collective, KV and weight bytes, MTP, precision, layouts.

Expected values are written from datasheet numbers (hardware.md, as carried by the catalog YAMLs) and the
model configs, not from the code's output. Efficiency fractions are data that another file owns
(perf/data/efficiency.yaml), so they are read from `efficiency_table()` and plugged into the formula here.
"""

from __future__ import annotations

import math
import re

import pytest

from modelchip.catalog.loader import load_catalog
from modelchip.deploy.layout import Layout
from modelchip.deploy.precision import resolve_precision
from modelchip.errors import UserError
from modelchip.models.hf import load_model
from modelchip.models.params import count_params
from modelchip.perf.build import PrecisionRequest, build_target, speculation_from
from modelchip.perf.cost import comm_time, op_cost
from modelchip.perf.efficiency import efficiency_table, engine_table
from modelchip.perf.memory import kv_bytes_per_sequence, memory_plan, require_fit, weight_bytes_per_device
from modelchip.perf.ops import Op, StepShape, dense_mlp_ops, layer_ops
from modelchip.perf.target import Speculation

LLAMA_8B = "meta-llama/Meta-Llama-3.1-8B"
LLAMA_70B = "meta-llama/Meta-Llama-3.1-70B"
LLAMA_405B = "meta-llama/Meta-Llama-3.1-405B"
DEEPSEEK_V3 = "deepseek-ai/DeepSeek-V3"

# H100 SXM5 datasheet (hardware.md [S1]): dense BF16 989.4 TFLOP/s, HBM3 3.35 TB/s, 80 GB, NVLink4 450 GB/s
# per direction; HGX H100 NCCL all-reduce floor 20 us (kernels.md 4.3).
H100_BF16_FLOPS = 989.4e12
H100_K_HALF = 500.0 * 1978.9e12 / 1.979e15  # gemm_k_half at the H100's FP8 peak (efficiency.yaml)
H100_HBM_BYTES_PER_S = 3.35e12
H100_HBM_BYTES = 80.0e9
H100_NVLINK_BYTES_PER_S = 450.0e9
HGX_H100_LATENCY_S = 20.0e-6

# Llama-3.1-8B config.json: hidden 4096, intermediate 14336, 32 heads, 8 KV heads, 32 layers.
L8_HIDDEN, L8_FFN = 4096, 14336


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


# --- catalog numbers the hand computations rely on ---------------------------------------------


def test_h100_catalog_matches_datasheet() -> None:
    cat = load_catalog()
    chip = cat.chip("h100-sxm")
    assert chip.compute.peak_flops("bf16") == pytest.approx(H100_BF16_FLOPS)
    assert chip.memory.bandwidth_bytes_per_s.value == pytest.approx(H100_HBM_BYTES_PER_S)
    assert chip.memory.capacity_bytes.value == pytest.approx(H100_HBM_BYTES)
    hgx = cat.system("hgx-h100")
    assert hgx.chip == "h100-sxm" and hgx.chip_count == 8
    assert hgx.scale_up.bandwidth_bytes_per_s_per_direction_per_chip.value == pytest.approx(H100_NVLINK_BYTES_PER_S)
    assert hgx.scale_up.latency_s.value == pytest.approx(HGX_H100_LATENCY_S)
    assert hgx.scale_up.domain_size == 8


# --- one GEMM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [1, 256, 8192])
def test_gemm_flops_bytes_and_roofline_time_on_h100(tokens: int) -> None:
    """mlp.down of Llama-3.1-8B (M=tokens, N=4096, K=14336) in BF16 on one H100."""
    t = build_target(LLAMA_8B, "h100-sxm", Layout(tp=1))
    ops = {op.name: op for op in dense_mlp_ops(L8_FFN, True, L8_HIDDEN, t, float(tokens), 1.0, "mlp")}
    down = ops["mlp.down"]
    m, n, k = tokens, L8_HIDDEN, L8_FFN
    assert down.kind == "gemm"
    assert down.fmt == "bf16"
    assert down.flops == pytest.approx(2.0 * m * n * k)
    # Weights N x K in BF16 read once; activations M x K in and M x N out, BF16.
    assert down.bytes == pytest.approx(n * k * 2.0 + m * (n + k) * 2.0)

    up_gate = ops["mlp.up_gate"]
    assert up_gate.flops == pytest.approx(2.0 * m * (2 * L8_FFN) * L8_HIDDEN)  # gate and up fused

    table = efficiency_table()
    fam = table.for_chip("h100-sxm")
    assert table.family_name("h100-sxm") == "hopper"
    rows = max(m, 64)  # below one 64-row tile, swap-AB kernels keep the 64-row efficiency
    # K = 14336 against the 8192 the family figure was measured at.
    k_term = (k / (k + H100_K_HALF)) / (8192.0 / (8192.0 + H100_K_HALF))
    eff = fam.gemm["bf16"] * rows / (rows + table.gemm_m_half) * k_term
    t_compute = 2.0 * m * n * k / (H100_BF16_FLOPS * eff)
    t_memory = (n * k * 2.0 + m * (n + k) * 2.0) / (H100_HBM_BYTES_PER_S * fam.memory)
    overhead = engine_table().profile(None).kernel_overhead_s
    cost = op_cost(t, down)
    assert cost.time_s == pytest.approx(max(t_compute, t_memory) + overhead, rel=1e-9)
    if overhead < max(t_compute, t_memory):
        assert cost.bound == ("compute" if t_compute >= t_memory else "memory")


def test_short_reduction_lowers_gemm_efficiency_by_the_deepgemm_fit() -> None:
    """K = 512 against K = 8192 at M = 4096 on H100 FP8: (512 / 1012) / (8192 / 8692) = 0.537 of the rate,
    as DeepGEMM's 37.9% at K = 512 against ~70% at large K (kernels.md 1.3)."""
    t = build_target(LLAMA_8B, "h100-sxm", Layout(tp=1), PrecisionRequest("fp8"))
    short = Op("short", "gemm", 2.0 * 4096 * 32768 * 512, 0.0, "fp8", 4096.0, k=512.0)
    long = Op("long", "gemm", 2.0 * 4096 * 32768 * 512, 0.0, "fp8", 4096.0, k=8192.0)
    overhead = engine_table().profile(None).kernel_overhead_s
    ratio = (op_cost(t, long).time_s - overhead) / (op_cost(t, short).time_s - overhead)
    assert ratio == pytest.approx((512 / (512 + H100_K_HALF)) / (8192 / (8192 + H100_K_HALF)), rel=1e-9)
    assert ratio == pytest.approx(0.537, abs=1e-3)


def test_short_reduction_costs_less_on_a_slower_chip() -> None:
    """The per-tile cost is fixed in time, so the H20 (296 TFLOPS FP8) loses less to K = 512 than the H100."""
    ratios = []
    for chip in ("h100-sxm", "h20"):
        t = build_target(LLAMA_8B, chip, Layout(tp=1), PrecisionRequest("fp8"))
        short = Op("short", "gemm", 1e15, 0.0, "fp8", 4096.0, k=512.0)
        long = Op("long", "gemm", 1e15, 0.0, "fp8", 4096.0, k=8192.0)
        ratios.append(op_cost(t, long).time_s / op_cost(t, short).time_s)
    assert ratios[1] > ratios[0]


def test_gemm_bound_flips_from_memory_to_compute_with_m() -> None:
    """A decode GEMM (M=1) streams weights; a prefill GEMM (M=8192) is compute-bound (AI >> ridge)."""
    t = build_target(LLAMA_8B, "h100-sxm", Layout(tp=1))
    bounds = {}
    for m in (1, 8192):
        down = next(
            op for op in dense_mlp_ops(L8_FFN, True, L8_HIDDEN, t, float(m), 1.0, "mlp") if op.name == "mlp.down"
        )
        bounds[m] = op_cost(t, down).bound
    assert bounds[1] in ("memory", "overhead")
    assert bounds[8192] == "compute"


def test_gemm_count_multiplies_total_not_per_occurrence() -> None:
    t = build_target(LLAMA_8B, "h100-sxm", Layout(tp=1))
    one = next(op for op in dense_mlp_ops(L8_FFN, True, L8_HIDDEN, t, 64.0, 1.0, "mlp") if op.name == "mlp.down")
    many = next(op for op in dense_mlp_ops(L8_FFN, True, L8_HIDDEN, t, 64.0, 32.0, "mlp") if op.name == "mlp.down")
    assert op_cost(t, many).time_s == pytest.approx(op_cost(t, one).time_s)
    assert op_cost(t, many).total_s == pytest.approx(32 * op_cost(t, one).time_s)


def test_tp_shards_gemm_width() -> None:
    """tp=8 gives each device 1/8 of the FFN width: FLOPs and weight bytes of mlp.down / 8."""
    t1 = build_target(LLAMA_8B, "hgx-h100", Layout(tp=1))
    t8 = build_target(LLAMA_8B, "hgx-h100", Layout(tp=8))
    d1 = next(op for op in dense_mlp_ops(L8_FFN, True, L8_HIDDEN, t1, 128.0, 1.0, "mlp") if op.name == "mlp.down")
    d8 = next(op for op in dense_mlp_ops(L8_FFN, True, L8_HIDDEN, t8, 128.0, 1.0, "mlp") if op.name == "mlp.down")
    assert d8.flops == pytest.approx(2.0 * 128 * L8_HIDDEN * L8_FFN / 8)
    assert d8.bytes == pytest.approx(L8_HIDDEN * L8_FFN / 8 * 2.0 + 128 * (L8_HIDDEN + L8_FFN / 8) * 2.0)
    assert d1.flops == pytest.approx(8 * d8.flops)


# --- one collective ------------------------------------------------------------------------------


def test_tp_all_reduce_alpha_beta_on_hgx_h100() -> None:
    """Ring all-reduce of the decode activations of 64 sequences over 8 GPUs:
    t = alpha + 2(n-1)/n x bytes / (bw x eff) (Patarasuk & Yuan 2009)."""
    t = build_target(LLAMA_8B, "hgx-h100", Layout(tp=8))
    assert t.system is not None and t.system.id == "hgx-h100"
    layer = t.model.layers[0]
    shape = StepShape("decode", 64.0, 1.0, 1024.0)
    ar = [op for op in layer_ops(layer, t, shape, 1.0) if op.collective == "all_reduce"]
    assert len(ar) == 1
    op = ar[0]
    message = 64 * L8_HIDDEN * 2.0  # BF16 hidden state of every token
    assert op.bytes == pytest.approx(message)
    assert op.group == 8
    assert op.count == pytest.approx(2.0)  # after attention and after the MLP

    eff = efficiency_table().for_chip("h100-sxm").scale_up
    n = 8
    expected = HGX_H100_LATENCY_S + 2 * (n - 1) / n * message / (H100_NVLINK_BYTES_PER_S * eff)
    assert comm_time(t, op) == pytest.approx(expected, rel=1e-9)
    cost = op_cost(t, op)
    assert cost.bound == "communication"
    assert cost.time_s == pytest.approx(expected, rel=1e-9)


def test_all_reduce_of_one_device_is_free() -> None:
    t = build_target(LLAMA_8B, "hgx-h100", Layout(tp=1))
    op = Op("x", "comm", 0.0, 1e6, collective="all_reduce", group=1)
    assert comm_time(t, op) == 0.0
    shape = StepShape("decode", 8.0, 1.0, 128.0)
    assert not [o for o in layer_ops(t.model.layers[0], t, shape, 1.0) if o.kind == "comm"]


# --- KV cache ------------------------------------------------------------------------------------


def test_kv_bytes_per_token_mla_deepseek_v3() -> None:
    """MLA caches one latent (kv_lora_rank 512) + one RoPE key (64) per token per layer: 61 x 576 x 2 B."""
    t = build_target(DEEPSEEK_V3, "h100-sxm", Layout(tp=1))
    assert t.precision.kv_bytes == 2.0
    assert kv_bytes_per_sequence(t, 1.0) == pytest.approx(61 * (512 + 64) * 2)
    assert kv_bytes_per_sequence(t, 4096.0) == pytest.approx(4096 * 61 * (512 + 64) * 2)


def test_kv_mla_latent_is_replicated_over_tp() -> None:
    t = build_target(DEEPSEEK_V3, "hgx-h100", Layout(tp=8))
    assert kv_bytes_per_sequence(t, 1.0) == pytest.approx(61 * (512 + 64) * 2)


def test_kv_bytes_per_token_gqa_llama_70b() -> None:
    """GQA: K and V of 8 KV heads of 128 per layer: 80 x 2 x 8 x 128 x 2 B = 327,680 B."""
    t = build_target(LLAMA_70B, "h100-sxm", Layout(tp=1))
    assert kv_bytes_per_sequence(t, 1.0) == pytest.approx(80 * 2 * 8 * 128 * 2)
    assert kv_bytes_per_sequence(t, 1.0) == pytest.approx(327_680)


@pytest.mark.parametrize(("tp", "kv_heads_per_device"), [(2, 4), (8, 1), (16, 1)])
def test_kv_gqa_sharded_over_tp_then_replicated(tp: int, kv_heads_per_device: int) -> None:
    """8 KV heads split over tp; past tp=8 each device keeps a copy of its one KV head."""
    hw = "hgx-h100" if tp <= 8 else "h100-sxm"
    t = build_target(LLAMA_70B, hw, Layout(tp=tp))
    assert kv_bytes_per_sequence(t, 1.0) == pytest.approx(80 * 2 * kv_heads_per_device * 128 * 2)


# --- weights -------------------------------------------------------------------------------------


def test_weights_llama_8b_tp1_bf16_are_params_times_two() -> None:
    spec = load_model(LLAMA_8B)
    params = count_params(spec).total
    # Llama-3.1-8B: 8.03 B parameters (Meta model card); untied 128,256 x 4096 embedding and LM head.
    assert 8.0e9 <= params <= 8.1e9
    t = build_target(spec, "h100-sxm", Layout(tp=1))
    assert t.precision.weight_bytes == 2.0
    assert weight_bytes_per_device(t) == pytest.approx(params * 2.0, rel=1e-9)


def test_weights_llama_8b_tp8_are_an_eighth() -> None:
    spec = load_model(LLAMA_8B)
    t8 = build_target(spec, "hgx-h100", Layout(tp=8))
    assert weight_bytes_per_device(t8) == pytest.approx(count_params(spec).total * 2.0 / 8, rel=1e-9)


# --- MTP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "acceptance", "expected"),
    [(0, 0.9, 1.0), (1, 0.8, 1.8), (2, 0.5, 1.75), (3, 0.7, 1 + 0.7 + 0.49 + 0.343)],
)
def test_mtp_tokens_per_step(draft: int, acceptance: float, expected: float) -> None:
    assert Speculation(draft, acceptance).tokens_per_step() == pytest.approx(expected)


def test_mtp_acceptance_from_accept_length() -> None:
    """Two drafts, 2.5 tokens per step: 1 + a + a^2 = 2.5 -> a = (sqrt(7) - 1) / 2."""
    spec = speculation_from(2, None, 2.5)
    assert spec.draft_tokens == 2
    assert spec.acceptance == pytest.approx((math.sqrt(7) - 1) / 2, abs=1e-6)
    assert speculation_from(0, 0.9, None).tokens_per_step() == 1.0


def test_mtp_acceptance_out_of_range_is_a_user_error() -> None:
    with pytest.raises(UserError, match="acceptance"):
        speculation_from(1, 1.5, None)


# --- precision -----------------------------------------------------------------------------------


def test_fp8_on_ascend_910c_runs_int8_with_a_note() -> None:
    """910C has no FP8 unit (hardware.md): FP8 checkpoints are re-quantised to INT8 (formats.md 5)."""
    chip = load_catalog().chip("ascend-910c")
    assert chip.compute.peak_flops("fp8") is None and chip.compute.peak_flops("int8") is not None
    plan = resolve_precision(chip, weights="fp8")
    assert plan.gemm_format == "int8"
    assert plan.moe_gemm_format == "int8"
    assert plan.weight_bytes == 1.0
    assert plan.notes, "the conversion must be reported"
    assert any("fp8" in n and "int8" in n for n in plan.notes)


def test_fp4_on_h100_runs_weight_only_in_bf16_from_4_bit_storage() -> None:
    """No FP4 unit: Marlin / Triton W4A16 kernels unpack the 4-bit weights to BF16 (vLLM issue 31085)."""
    chip = load_catalog().chip("h100-sxm")
    for fmt, storage in (("nvfp4", 0.5 + 1 / 16), ("mxfp4", 0.5 + 1 / 32)):
        plan = resolve_precision(chip, weights=fmt)
        assert plan.gemm_format == "bf16"
        assert plan.weight_bytes == pytest.approx(storage)  # not re-quantised: the 4-bit weights stay
        assert any(fmt in n and "bf16" in n for n in plan.notes)
        assert all("weight-only" in n for n in plan.notes)  # the output says how it runs


def test_requested_w4a16_is_noted_as_weight_only() -> None:
    """4-bit experts asked for with BF16 activations run W4A16 on any chip, Blackwell included."""
    plan = resolve_precision(load_catalog().chip("b200"), weights="bf16", moe="mxfp4")
    assert plan.moe_gemm_format == "bf16"
    assert [n for n in plan.notes if "weight-only" in n and "MoE expert" in n]


def test_fp8_on_ascend_is_requantised_not_weight_only() -> None:
    plan = resolve_precision(load_catalog().chip("ascend-910c"), weights="fp8")
    assert not any("weight-only" in n for n in plan.notes)


def test_nvfp4_on_b200_is_native() -> None:
    chip = load_catalog().chip("b200")
    plan = resolve_precision(chip, weights="nvfp4")
    assert plan.gemm_format == "nvfp4"
    assert plan.notes == ()
    # NVFP4: 4-bit E2M1 values + one E4M3 scale per 16 elements = 0.5 + 1/16 bytes.
    assert plan.weight_bytes == pytest.approx(0.5 + 1 / 16)


def test_bf16_on_h100_is_native_without_notes() -> None:
    plan = resolve_precision(load_catalog().chip("h100-sxm"), weights="bf16")
    assert (plan.gemm_format, plan.weight_bytes, plan.kv_bytes, plan.notes) == ("bf16", 2.0, 2.0, ())


def test_unknown_precision_is_a_user_error() -> None:
    with pytest.raises(UserError, match="fp3"):
        resolve_precision(load_catalog().chip("h100-sxm"), weights="fp3")


# --- layouts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "layout", "needle"),
    [
        (LLAMA_8B, Layout(tp=3), "tp=3"),  # 32 heads
        (LLAMA_8B, Layout(ep=2), "ep"),  # dense model
        (LLAMA_8B, Layout(pp=33), "pp=33"),  # 32 layers
        (LLAMA_8B, Layout(tp=0), "tp"),
    ],
)
def test_invalid_layouts_raise_user_error(model: str, layout: Layout, needle: str) -> None:
    with pytest.raises(UserError, match=re.escape(needle)):
        build_target(model, "h100-sxm", layout)


def test_valid_layouts_build() -> None:
    assert build_target(LLAMA_8B, "hgx-h100", Layout(tp=8)).layout.tp == 8
    assert build_target(LLAMA_8B, "h100-sxm", Layout(pp=32)).layout.pp == 32
    t = build_target(DEEPSEEK_V3, "hgx-h100", Layout(dp=8, ep=8))
    assert t.layout.ep == 8


# --- fit -----------------------------------------------------------------------------------------


def test_llama_405b_bf16_does_not_fit_one_h100() -> None:
    """405 B parameters x 2 B = ~810 GB of BF16 weights against 80 GB of HBM."""
    t = build_target(LLAMA_405B, "h100-sxm", Layout(tp=1), None)
    plan = memory_plan(t, 1280.0)
    assert not plan.fits
    with pytest.raises(UserError) as info:
        require_fit(t, plan)
    msg = str(info.value)
    assert "does not fit" in msg
    assert "\n" not in msg
    assert "80.0 GB" in msg
    numbers = [float(x) for x in re.findall(r"(\d+(?:\.\d+)?) GB", msg)]
    # The weights-plus-reserve figure: at least 405e9 x 2 B, at most that plus a 40 GB reserve.
    assert any(810.0 <= x <= 850.0 for x in numbers), msg


def test_llama_8b_bf16_fits_one_h100_with_kv_budget() -> None:
    t = build_target(LLAMA_8B, "h100-sxm", Layout(tp=1))
    plan = memory_plan(t, 2048.0)
    assert plan.fits
    require_fit(t, plan)
    # 80 GB - 16.06 GB weights - reserve: between 50 and 64 GB for KV.
    assert 50e9 <= plan.kv_budget_bytes <= 64e9
    assert plan.max_sequences_per_rank == pytest.approx(plan.kv_budget_bytes / (2048 * 32 * 2 * 8 * 128 * 2))


def test_mlp_activation_kernel_bytes() -> None:
    """Llama-3.1-8B (intermediate 14336, gated): SiLU(gate) x up reads 2 x 14336 and writes 14336 BF16
    values per token, as its own kernel between the GEMMs; with tp=2 each device holds half the width."""
    for tp in (1, 2):
        t = build_target(LLAMA_8B, "h100-sxm" if tp == 1 else "hgx-h100", Layout(tp=tp))
        ops = {op.name: op for op in dense_mlp_ops(14336, True, 4096, t, 512.0, 1.0, "mlp")}
        assert ops["mlp.act"].kind == "memory"
        assert ops["mlp.act"].bytes == pytest.approx(512 * 14336 / tp * 3 * 2)


def test_moe_activation_follows_the_routed_load() -> None:
    """DeepSeek-V3 on 8 EP devices: 64 tokens per rank x 8 ranks x top-8 / 8 devices x imbalance rows,
    each reading 2 x 2048 and writing 2048 BF16 values."""
    t = build_target(DEEPSEEK_V3, "hgx-h200", Layout(dp=8, ep=8))
    ops = {op.name: op for op in layer_ops(t.model.layers[-1], t, StepShape("decode", 64.0, 1.0, 1000.0), 1.0)}
    rows = 64 * 8 * 8 / 8 * t.moe_imbalance
    assert ops["moe.act"].bytes == pytest.approx(rows * 2048 * 3 * 2)


@pytest.mark.parametrize(
    ("tokens", "dispatch_us", "combine_us"), [(256, 50.8, 53.0), (512, 89.5, 91.7), (1024, 166.3, 175.6)]
)
def test_expert_all_to_all_within_15_percent_of_trtllm_one_sided_alltoall_on_gb200(
    tokens: int, dispatch_us: float, combine_us: float
) -> None:
    """TensorRT-LLM tech blog 18 (one-sided all-to-all over NVLink, GB200 NVL72, DeepSeek-V3 shapes, BF16,
    EP8) measured dispatch / combine per MoE layer at 256 / 512 / 1024 tokens per rank. The model's
    all-to-all: every token's 8 expert copies of its 7168-wide BF16 hidden state, 7/8 of them crossing
    NVLink (alpha + bytes / (bw x eff)), with no load imbalance here (the blog's routing is balanced)."""
    t = build_target(DEEPSEEK_V3, "gb200-nvl72", Layout(dp=8, ep=8))
    hidden, top_k = 7168, 8
    op = Op("moe.dispatch", "comm", 0.0, tokens * top_k * hidden * 2.0, collective="all_to_all", group=8,
            copies=float(top_k))  # fmt: skip
    modelled_us = comm_time(t, op) * 1e6
    for measured in (dispatch_us, combine_us):
        assert _rel(modelled_us, measured) < 0.15
    # Doubling the tokens costs what the measurements show (x1.76 from 256 to 512, x1.86 from 512 to
    # 1024): a fixed latency plus a part linear in the bytes.
    double = Op("moe.dispatch", "comm", 0.0, 2 * op.bytes, collective="all_to_all", group=8, copies=float(top_k))
    growth = {256: 89.5 / 50.8, 512: 166.3 / 89.5}
    if tokens in growth:
        assert comm_time(t, double) / comm_time(t, op) == pytest.approx(growth[tokens], rel=0.1)
