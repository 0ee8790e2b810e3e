"""GEMM efficiency versus rows (tokens): swap-AB below one tile, DeepGEMM's M-dependence above."""

from __future__ import annotations

import pytest

from modelchip.deploy.layout import Layout
from modelchip.perf.build import build_target
from modelchip.perf.cost import compute_time
from modelchip.perf.efficiency import efficiency_table
from modelchip.perf.ops import Op


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
