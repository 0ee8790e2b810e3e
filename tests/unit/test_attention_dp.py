"""Attention data parallelism: the busiest rank's KV work and TensorRT-LLM's context synchronisation."""

from __future__ import annotations

import numpy as np
import pytest
from test_serving_fakes import FakeClock, run_fake

from modelchip.deploy.layout import Layout
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target
from modelchip.perf.ops import StepShape, busiest_rank_factor, expected_max_normal, step_ops
from modelchip.workload.arrivals import Poisson

DSR1 = "deepseek-ai/DeepSeek-R1"
FP8 = PrecisionRequest("fp8")


def test_expected_max_of_normals_matches_sampling() -> None:
    rng = np.random.default_rng(1)
    assert expected_max_normal(2) == pytest.approx(1 / np.sqrt(np.pi))  # closed form for two
    for n in (8, 32):
        sampled = rng.standard_normal((200_000, n)).max(axis=1).mean()
        assert expected_max_normal(n) == pytest.approx(sampled, rel=0.01)
    assert expected_max_normal(1) == 0.0


@pytest.mark.parametrize("cv", [0.0, 0.5, 1.0])
def test_context_spread_formula_matches_the_sampled_batch(cv: float) -> None:
    rng = np.random.default_rng(2)
    sigma = np.sqrt(np.log1p(cv**2))
    osl = rng.lognormal(np.log(800) - sigma**2 / 2, sigma, 300_000) if cv else np.full(10, 800.0)
    isl = np.full(osl.size, 500.0)
    assert an.Workload(500, 800, osl_cv=cv).context_spread == pytest.approx(
        an.sampled_context_spread(isl, osl), rel=0.03
    )


def test_fixed_lengths_spread_is_the_uniform_age_spread() -> None:
    # contexts uniform on [isl, isl + osl]: std osl / sqrt(12) over mean isl + osl / 2
    assert an.Workload(1000, 1200).context_spread == pytest.approx(1200 / np.sqrt(12) / 1600)


def test_busiest_rank_only_with_several_attention_ranks() -> None:
    shape = StepShape("decode", 100.0, 1.0, 4000.0, 1.0)
    one = build_target(DSR1, "h200-sxm", Layout(tp=8, ep=8), FP8)
    eight = build_target(DSR1, "h200-sxm", Layout(dp=8, ep=8), FP8)
    assert busiest_rank_factor(one, shape) == 1.0
    # 1 + E[max of 8 normals] x 1.0 / sqrt(100)
    assert busiest_rank_factor(eight, shape) == pytest.approx(1 + expected_max_normal(8) / 10)
    assert busiest_rank_factor(eight, StepShape("prefill", 100.0, 1.0, 4000.0, 1.0)) == 1.0


def test_busiest_rank_scales_attention_only() -> None:
    t = build_target(DSR1, "h200-sxm", Layout(dp=8, ep=8), FP8)
    even = {op.name: op for op in step_ops(t, StepShape("decode", 64.0, 1.0, 4000.0))}
    spread = {op.name: op for op in step_ops(t, StepShape("decode", 64.0, 1.0, 4000.0, 0.8))}
    factor = 1 + expected_max_normal(8) * 0.8 / 8
    assert spread["attn.core_mla"].flops == pytest.approx(even["attn.core_mla"].flops * factor)
    assert spread["attn.core_mla"].bytes == pytest.approx(even["attn.core_mla"].bytes * factor)
    assert spread["moe.experts"].flops == even["moe.experts"].flops


def test_spread_slows_an_attention_dp_decode_step() -> None:
    t = build_target(DSR1, "h200-sxm", Layout(dp=8, ep=8), FP8)
    assert an.decode_step(t, 64, 4000, 1.0).time_s > an.decode_step(t, 64, 4000).time_s


def _sync_clock(steps: int) -> FakeClock:
    clock = FakeClock(ranks=2)
    clock.context_sync_steps = steps
    return clock


def test_context_sync_waits_for_a_prompt_per_rank() -> None:
    """r0 decodes from 0.05 in 10 ms steps. r1 (0.105) is held until r2 (0.155) gives both ranks a prompt;
    both are prefilled in the step from 0.16 (10 ms + 40 tokens x 1 ms / 2 ranks): first tokens at 0.19.
    Without the sync, r1 starts at 0.11 and has its first token at 0.13."""
    isl, osl, arrivals = [100, 20, 20], [100, 5, 5], [0.0, 0.105, 0.155]
    synced = run_fake(isl, osl, Poisson(1.0), arrivals, clock=_sync_clock(50))
    free = run_fake(isl, osl, Poisson(1.0), arrivals, clock=FakeClock(ranks=2))
    assert [r.first_s for r in synced.requests[1:]] == pytest.approx([0.19, 0.19])
    assert free.requests[1].first_s == pytest.approx(0.13)


def test_context_sync_times_out() -> None:
    """r1 arrives at 0.105 (after 6 steps) alone; it waits 3 steps and is prefilled from 0.13 (20 ms)."""
    sim = run_fake([100, 20], [100, 5], Poisson(1.0), [0.0, 0.105], clock=_sync_clock(3))
    assert sim.requests[1].first_s == pytest.approx(0.15)


def test_analytic_wait_for_a_group_of_prompts() -> None:
    trt = build_target(DSR1, "b200", Layout(dp=8, ep=8), FP8, engine="trtllm")
    sgl = build_target(DSR1, "b200", Layout(dp=8, ep=8), FP8, engine="sglang")
    assert an.context_sync_wait_s(trt, 5.0, 0.06) == pytest.approx(7 / 10)
    assert an.context_sync_wait_s(trt, 0.01, 0.06) == pytest.approx(50 * 0.06)  # the timeout
    assert an.context_sync_wait_s(sgl, 5.0, 0.06) == 0.0
