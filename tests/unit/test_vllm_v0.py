"""vLLM's V0 engine as AMD's MLPerf harness runs it: no chunked prefill (a prompt runs whole, in a step
that pauses the decodes), multi-step scheduling (a decode batch runs N steps between scheduler passes)
and eager execution (the host launches every kernel; the step takes the longer of GPU work and that).
Event traces with a constant-time clock: decode step 10 ms, prefill 1 ms per prompt token."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_serving_fakes import run_fake

from modelchip.deploy.layout import Layout
from modelchip.models.hf import load_model
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target
from modelchip.perf.ops import StepShape, step_ops
from modelchip.perf.step import host_launch_s, step_time
from modelchip.serving.spec import EngineConfig
from modelchip.validate import load_cases
from modelchip.validate import predict_case as pc
from modelchip.validate import predict_sim as sim
from modelchip.workload.arrivals import Poisson

MODEL = "meta-llama/Meta-Llama-3.1-8B"
V0 = EngineConfig(chunked_prefill=False)


def test_without_chunked_prefill_a_prompt_pauses_every_decode() -> None:
    """r0: prefill 0-0.1 (first token), decode 0.1-0.11. r1 arrives at 0.105 and runs whole in a
    prefill-only step 0.11-0.13 (20 tokens), in which r0 makes no progress; then both decode: r1's last
    token at 0.14, r0's remaining 8 at 0.21. With chunked prefill r1's first token comes with r0's decode
    in one mixed step, at 0.14."""
    v0 = run_fake([100, 20], [10, 2], Poisson(1.0), arrival_s=[0.0, 0.105], engine=V0)
    r0, r1 = v0.requests
    assert r1.first_s == pytest.approx(0.13)
    assert r1.finish_s == pytest.approx(0.14)
    assert r0.finish_s == pytest.approx(0.21)
    prefill_steps = [i for i, tokens in enumerate(v0.log.prefill_tokens) if tokens]
    assert [v0.log.decoding[i] for i in prefill_steps] == [0, 0]
    chunked = run_fake([100, 20], [10, 2], Poisson(1.0), arrival_s=[0.0, 0.105])
    assert chunked.requests[1].first_s == pytest.approx(0.14)


def test_multi_step_runs_hold_new_prompts_until_they_end() -> None:
    """Four steps per run. r0's first run is 0.1-0.14; r1 (arrived 0.105) is prefilled only after it,
    0.14-0.16. The next run (0.16-0.20) carries r1's one remaining token, but r1 is done only when the run
    ends; r0 then has 9 tokens and needs a last run, 0.20-0.24."""
    run = run_fake([100, 20], [10, 2], Poisson(1.0), arrival_s=[0.0, 0.105], engine=EngineConfig(
        chunked_prefill=False, scheduler_steps=4))  # fmt: skip
    r0, r1 = run.requests
    assert r1.first_s == pytest.approx(0.16)
    assert r1.finish_s == pytest.approx(0.20)
    assert r0.finish_s == pytest.approx(0.24)
    # the timeline keeps one row per engine step, multi-step runs included
    assert len(run.log.duration_s) == 1 + 4 + 1 + 4 + 4
    assert sum(run.log.duration_s) == pytest.approx(0.24)


def test_prompts_wait_for_a_group_while_sequences_decode() -> None:
    """AMD's MLPerf Server scheduler starts prompts only once 2 (here) wait. r0 arrives alone to an idle
    engine and starts at once (first token at 0.1); r1 (0.105) is held while r0 decodes in 10 ms steps,
    until r2 (0.155) makes two: both run whole in the prefill-only step from 0.16 (40 tokens x 1 ms), first
    tokens at 0.20. Without the hold r1 is prefilled 0.11-0.13."""
    isl, osl, arrivals = [100, 20, 20], [100, 5, 5], [0.0, 0.105, 0.155]
    held = run_fake(isl, osl, Poisson(1.0), arrivals, engine=EngineConfig(chunked_prefill=False, min_queued_prompts=2))
    free = run_fake(isl, osl, Poisson(1.0), arrivals, engine=V0)
    assert [r.first_s for r in held.requests] == pytest.approx([0.1, 0.2, 0.2])
    assert free.requests[1].first_s == pytest.approx(0.13)


def test_analytic_wait_for_a_group_of_queued_prompts() -> None:
    """The j-th of n Poisson arrivals waits for n - j more: (8 - 1) / 2 inter-arrival times of 0.1 s."""
    t = build_target(load_model(MODEL), "mi300x", Layout(), PrecisionRequest("fp8"), engine="vllm")
    amd = replace(t, engine=t.engine.model_copy(update={"min_queued_prompts": 8}))
    assert an.held_prompt_wait_s(amd, 10.0, 0.1) == pytest.approx(0.35)
    assert an.held_prompt_wait_s(t, 10.0, 0.1) == 0.0


def test_eager_launches_floor_a_small_decode_step() -> None:
    """At batch 1 the host's launches (226 ops x 41 us for an 8B model) outlast the GPU work on an H100;
    at batch 512 the GPU work is longer and the floor does not bind."""
    eager = build_target(MODEL, "h100-sxm", Layout(), engine=pc.AMD_MLPERF_ENGINE)
    graphs = build_target(MODEL, "h100-sxm", Layout(), engine="vllm")
    assert eager.engine.eager_launch_s > 0 == graphs.engine.eager_launch_s
    small = StepShape("decode", 1, 1, 1000)
    kernels = sum(op.count for op in step_ops(eager, small))
    floor = host_launch_s(eager, kernels)
    assert step_time(graphs, small).time_s < floor
    assert step_time(eager, small).time_s == pytest.approx(floor + eager.engine.step_overhead_s)
    assert step_time(eager, small).bound == "overhead"
    large = StepShape("decode", 512, 1, 1000)
    assert step_time(eager, large).time_s == pytest.approx(step_time(graphs, large).time_s)
    # the vectorised path applies the same floor
    assert float(an.decode_step(eager, 1, 1000).time_s) == pytest.approx(step_time(eager, small).time_s)


def test_amd_mlperf_cases_run_the_v0_harness() -> None:
    """MLPerf vLLM cases on Instinct chips take AMD's harness (V0, multi-step, eager); vLLM elsewhere and
    AMD chips outside MLPerf keep the V1 defaults."""
    cases = {c.id: c for c in load_cases()}
    amd = cases["mlperf51-8xmi300x-llama2-70b-interactive"]
    nvidia = cases["mlperf51-1xh100-redhat-llama31-8b-offline"]
    assert amd.engine == nvidia.engine == "vllm"
    t_amd = pc._targets(amd, load_model(amd.model))[0]
    t_nvidia = pc._targets(nvidia, load_model(nvidia.model))[0]
    assert t_amd.engine_name == pc.AMD_MLPERF_ENGINE
    assert t_nvidia.engine_name == "vllm"
    engine = pc.simulated_engine(amd, t_amd)
    assert not engine.chunked_prefill and engine.scheduler_steps == t_amd.engine.scheduler_steps > 1
    # the V0 budget bounds whole prompts, so it is not sized to the TPOT limit as a chunk would be
    assert engine.max_batched_tokens_per_rank == sim.VALIDATION_ENGINE.max_batched_tokens_per_rank
    plain = build_target(amd.model, "mi300x", Layout(), engine="vllm")
    assert plain.engine.chunked_prefill and plain.engine.scheduler_steps == 1


def test_eager_launch_cost_is_the_median_of_three_measured_eager_steps() -> None:
    """engines.yaml: batch-1 eager decode steps of 32-layer Llamas (sglang PR 1401: 9.28 and 8.23 ms;
    vLLM PR 1440: 12 ms per token), each spread over the model's ops of that step."""
    t = build_target(MODEL, "h100-sxm", Layout(), engine=pc.AMD_MLPERF_ENGINE)
    ops = sum(op.count for op in step_ops(t, StepShape("decode", 1, 1, 1000)))
    assert ops == 226
    per_op = sorted(step / ops for step in (9.28e-3, 8.23e-3, 12.0e-3))
    assert t.engine.eager_launch_s == pytest.approx(per_op[1], rel=0.01)


def test_predict_says_what_the_v0_engine_changes() -> None:
    from modelchip.perf.predict import PredictRequest, predict

    v0 = predict(PredictRequest(MODEL, "h100-sxm", engine=pc.AMD_MLPERF_ENGINE, batch=1))
    v1 = predict(PredictRequest(MODEL, "h100-sxm", engine="vllm", batch=1))
    assert any("runs eagerly" in n for n in v0.notes)
    assert any("prefill-only steps and starts them only between 9-step decode runs" in n for n in v0.notes)
    assert not any("eagerly" in n or "decode runs" in n for n in v1.notes)
    assert v0.tpot_s > v1.tpot_s  # batch 1: the launches, not the GPU, set the step


def test_amd_harness_takes_the_published_config_of_each_run() -> None:
    """data/mlperf_harness.yaml: per model, GPU and scenario, the v5.1 harness configs' engine settings:
    MI300X Interactive 8-step V0 runs, MI325X Interactive vLLM V1 (one step per schedule, chunked prefill),
    Offline 11 / 7 steps; a run without a published config keeps the harness defaults (9 steps)."""
    cases = {c.id: c for c in load_cases()}
    defaults = pc.engine_table().profile(pc.AMD_MLPERF_ENGINE)

    def engine(case_id: str) -> tuple[int, bool]:
        profile = pc.amd_harness_profile(cases[case_id])
        return profile.scheduler_steps, profile.chunked_prefill

    assert engine("mlperf51-8xmi300x-llama2-70b-interactive") == (8, False)
    assert engine("mlperf51-8xmi300x-llama2-70b-server") == (9, False)
    # Server runs hold prompts until 8 wait (VLLM_LLAMA2_MLPERF_MIN_REQUIRE_PREFILL_QUERY); the others do not
    assert pc.amd_harness_profile(cases["mlperf51-8xmi300x-llama2-70b-server"]).min_queued_prompts == 8
    assert pc.amd_harness_profile(cases["mlperf51-8xmi300x-llama2-70b-interactive"]).min_queued_prompts == 0
    assert engine("mlperf51-8xmi300x-llama2-70b-offline") == (11, False)
    assert engine("mlperf51-8xmi325x-llama2-70b-offline") == (7, False)
    assert engine("mlperf51-8xmi325x-llama2-70b-interactive") == (1, True)
    # no published config for AMD's Mixtral Offline runs: the harness defaults
    assert engine("mlperf51-8xmi300x-mixtral-8x7b-offline") == (defaults.scheduler_steps, defaults.chunked_prefill)
    # the eager launches and everything else stay the harness's
    v1 = pc.amd_harness_profile(cases["mlperf51-8xmi325x-llama2-70b-interactive"])
    assert v1.eager_launch_s == defaults.eager_launch_s > 0
    # and the simulator runs the V1 run with a chunk budget sized to the TPOT limit, as other V1 engines
    case = cases["mlperf51-8xmi325x-llama2-70b-interactive"]
    t = pc._targets(case, load_model(case.model))[0]
    sim_engine = pc.simulated_engine(case, t)
    assert sim_engine.chunked_prefill and sim_engine.scheduler_steps == 1
    assert sim_engine.max_batched_tokens_per_rank < sim.VALIDATION_ENGINE.max_batched_tokens_per_rank


def test_every_published_harness_run_names_a_bundled_model_and_a_catalog_chip() -> None:
    from modelchip.catalog import load_catalog

    chips = set(load_catalog().chips)
    assert pc.engine_table().engines.get(pc.AMD_MLPERF_ENGINE) is not None
    for runs in pc.mlperf_harnesses().values():
        for run in runs:
            assert run.chip in chips
            assert load_model(run.model).id == run.model
            assert run.scenario in {"Offline", "Server", "Interactive"}
            assert run.overrides()
