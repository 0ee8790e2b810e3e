"""GEMM efficiency versus rows (tokens): swap-AB below one tile, DeepGEMM's M-dependence above."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelchip.deploy.layout import Layout
from modelchip.deploy.precision import FORMAT_BYTES, is_weight_only
from modelchip.perf.build import build_target
from modelchip.perf.cost import compute_time
from modelchip.perf.efficiency import efficiency_table
from modelchip.perf.ops import Op, StepShape, step_ops


def _compute_s(rows: float) -> float:
    t = build_target("meta-llama/Meta-Llama-3.1-8B", "h20", Layout())
    op = Op("g", "gemm", 2.0 * rows * 4096 * 4096, 4096 * 4096 * 2.0, "bf16", rows)
    return float(compute_time(t, op)[0])


def test_below_one_tile_compute_time_scales_with_rows() -> None:
    # Same efficiency below 64 rows: time proportional to FLOPs (8 rows cost 1/8 of 64 rows).
    assert _compute_s(8) == pytest.approx(_compute_s(64) / 8, rel=1e-12)


def test_above_one_tile_efficiency_follows_m_over_m_plus_half() -> None:
    m_half = efficiency_table().gemm_m_half
    ratio = _compute_s(1024) / _compute_s(256)
    # time ~ M / e(M), e(M) ~ M / (M + m_half)  =>  t(1024)/t(256) = (1024 + m_half) / (256 + m_half)
    assert ratio == pytest.approx((1024 + m_half) / (256 + m_half), rel=1e-12)


def _b200_compute_s(rows: float, fmt: str) -> float:
    t = build_target("meta-llama/Meta-Llama-3.1-8B", "b200", Layout())
    op = Op("g", "gemm", 2.0 * rows * 6144 * 4096, 6144 * 4096 * 0.5625, fmt, rows)
    return float(compute_time(t, op)[0])


def test_fp4_gemms_need_more_rows_than_wider_formats() -> None:
    table = efficiency_table()
    assert table.gemm_m_half_fp4 > table.gemm_m_half
    ratio = _b200_compute_s(2048, "nvfp4") / _b200_compute_s(512, "nvfp4")
    assert ratio == pytest.approx(4 * (2048 + table.gemm_m_half_fp4) / 2048 / ((512 + table.gemm_m_half_fp4) / 512))
    # four times the rows cost less than four times the time in both, and FP4 gains more from them
    assert ratio < _b200_compute_s(2048, "fp8") / _b200_compute_s(512, "fp8") < 4


def test_fp4_curve_reproduces_its_source_measurement() -> None:
    """vLLM PR 20646 (B200 CUTLASS NVFP4, N=6144 K=4096): 2188 and 3646 TFLOPS at M = 512 and 4096."""
    flops = {m: 2.0 * m * 6144 * 4096 for m in (512, 4096)}
    achieved = {m: flops[m] / _b200_compute_s(m, "nvfp4") / 1e12 for m in flops}
    assert achieved[512] == pytest.approx(2188, rel=0.1)
    assert achieved[4096] == pytest.approx(3646, rel=0.1)


def test_weight_only_formats_are_the_ones_unpacked_in_the_gemm() -> None:
    assert is_weight_only(FORMAT_BYTES["mxfp4"], "bf16")  # gpt-oss experts on Hopper (W4A16)
    assert is_weight_only(FORMAT_BYTES["int4"], "fp16")  # AWQ / GPTQ
    assert not is_weight_only(FORMAT_BYTES["nvfp4"], "nvfp4")  # W4A4 on Blackwell
    assert not is_weight_only(FORMAT_BYTES["fp8"], "fp8")
    assert not is_weight_only(FORMAT_BYTES["bf16"], "bf16")


def test_weight_only_gemms_lose_compute_rate_but_stream_the_narrow_weights() -> None:
    """W4A16 (Marlin, sglang PR 38884): the MMAs share issue slots with unpacking, the weights stay 4-bit."""
    t = build_target("openai/gpt-oss-20b", "h100-sxm", Layout())
    rows, n, k = 4096.0, 5760.0, 2880.0
    packed = Op("g", "gemm", 2.0 * rows * n * k, n * k * FORMAT_BYTES["mxfp4"], "bf16", rows, k=k, weight_only=True)
    plain = replace(packed, weight_only=False)
    (c_packed, m_packed), (c_plain, m_plain) = compute_time(t, packed), compute_time(t, plain)
    assert float(c_packed) == pytest.approx(float(c_plain) / efficiency_table().weight_only_gemm)
    assert float(m_packed) == float(m_plain)


def test_gpt_oss_experts_on_hopper_are_built_weight_only() -> None:
    t = build_target("openai/gpt-oss-20b", "h100-sxm", Layout())
    shape = StepShape("decode", 256.0, 1.0, 1024.0)
    experts = [op for op in step_ops(t, shape) if op.name.startswith("moe.experts")]
    assert experts and all(op.weight_only and op.fmt == "bf16" for op in experts)
    blackwell = build_target("openai/gpt-oss-20b", "b200", Layout())
    assert not any(op.weight_only for op in step_ops(blackwell, shape) if op.kind == "gemm")
