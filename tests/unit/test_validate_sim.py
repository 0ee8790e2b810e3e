"""Validation on the simulator: steady-state statistics, and identical results across processes."""

from __future__ import annotations

import pytest

from modelchip.deploy.layout import Layout
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target
from modelchip.perf.target import Target
from modelchip.serving import step_budget_under
from modelchip.validate import apply_filter, load_cases, parse_filter, run_cases
from modelchip.validate import predict_sim as sim
from modelchip.validate.predict_case import predict_case


def test_stable_poisson_run_outputs_rate_times_length() -> None:
    t = build_target("meta-llama/Meta-Llama-3.1-8B", "h100-sxm", Layout(), engine="vllm")
    w = an.Workload(isl=512, osl=128)
    capacity = an.offline(t, w).requests_per_s_per_instance
    stats = sim.at_rate(t, 1, w, 0.5 * capacity)
    # At half load the system keeps up: tokens out per second = arrivals x output length.
    assert stats.output_tokens_per_s == pytest.approx(0.5 * capacity * 128, rel=0.15)
    assert 0 < stats.ttft_mean_s <= stats.ttft_p99_s
    assert 0 < stats.tpot_mean_s <= stats.tpot_p99_s


def test_p99_rate_search_meets_its_limits_and_tighter_limits_lower_it() -> None:
    t = build_target("meta-llama/Meta-Llama-3.1-8B", "h100-sxm", Layout(), engine="vllm")
    w = an.Workload(isl=512, osl=128)
    loose = sim.best_rate_under_p99(t, 1, w, ttft_s=2.0, tpot_s=0.2)
    tight = sim.best_rate_under_p99(t, 1, w, ttft_s=2.0, tpot_s=0.02)
    assert loose is not None and tight is not None and tight < loose
    check = sim.at_rate(t, 1, w, tight)
    assert check.tpot_p99_s <= 0.02


def _llama2_fp8_on_h200() -> Target:
    fp8 = PrecisionRequest("fp8", "fp8", "fp8")
    return build_target("meta-llama/Llama-2-70b-chat-hf", "h200-sxm", Layout(), fp8, engine="trtllm")


def test_token_budget_fits_the_tpot_limit_and_grows_with_it() -> None:
    t = _llama2_fp8_on_h200()
    w = an.Workload(isl=222, osl=290)
    budgets = [step_budget_under(t, w.isl, limit) for limit in (0.04, 0.2, 10.0)]
    assert budgets[0] < budgets[1] < budgets[2] == sim.VALIDATION_ENGINE.max_batched_tokens_per_rank
    # The budget is the largest whose full step fits: one token more breaks the limit.
    assert an.prefill_step(t, budgets[0], w.isl).time_s <= 0.04 < an.prefill_step(t, budgets[0] + 1, w.isl).time_s
    # NVIDIA's MLPerf v5.1 H200 Llama-2-70B configs (Nebius): Interactive (40 ms) 256, Server (200 ms) 1536.
    assert 128 <= budgets[0] <= 512
    assert 1024 <= budgets[1] <= 3072
    assert sim.engine_under(t, w, None) == sim.VALIDATION_ENGINE
    # A limit not even a one-token step meets is not tuned to: the engine default stays.
    assert step_budget_under(t, w.isl, 1e-6) == sim.VALIDATION_ENGINE.max_batched_tokens_per_rank


def test_a_smaller_token_budget_delays_first_tokens() -> None:
    """Prompts wait for room in the step: a step budget under the prompt length chunks each prompt."""
    t = _llama2_fp8_on_h200()
    w = an.Workload(isl=1000, osl=200)
    rate = 0.5 * an.capacity_requests_per_s(t, w, 1)
    wide = sim.at_rate(t, 1, w, rate)
    narrow = sim.at_rate(t, 1, w, rate, sim.engine_under(t, w, 0.04))
    assert narrow.ttft_mean_s > 1.5 * wide.ttft_mean_s


def test_a_simulated_case_is_the_median_of_independent_draws() -> None:
    """One draw of Poisson arrivals and output lengths is one sample: the case's answer is the middle one."""
    from statistics import median

    from modelchip.models.hf import load_model
    from modelchip.validate import predict_case as pc

    case = next(c for c in load_cases(None) if c.id == "mlperf51-8xb200-llama2-70b-interactive-tpot")
    t = pc._best_target(case, pc._targets(case, load_model(case.model)))
    assert pc.simulation_draws(case, t) == sim.SEEDS and len(sim.SEEDS) >= 3  # a short run: repeated
    draws = [pc._simulated_draw(case, t, seed) for seed in sim.SEEDS]
    assert len(set(draws)) == len(draws)  # the draws differ
    assert pc._simulated_value(case, t) == median(draws)


def test_short_runs_are_repeated_and_long_ones_are_not() -> None:
    """Each case simulates at least SAMPLE_REQUESTS requests in all, in as few draws as that takes."""
    assert sim.seeds_for(sim.MIN_POISSON_REQUESTS) == sim.SEEDS
    assert sim.seeds_for(sim.SAMPLE_REQUESTS // 2) == sim.SEEDS[:2]
    assert sim.seeds_for(sim.SAMPLE_REQUESTS) == sim.SEEDS[:1]
    assert sim.seeds_for(sim.MAX_REQUESTS) == sim.SEEDS[:1]


def test_fixed_length_closed_loops_run_one_draw() -> None:
    from modelchip.models.hf import load_model
    from modelchip.validate import predict_case as pc

    fixed = [c for c in load_cases(None) if pc.simulator_run(c) == "closed_loop" and pc.output_length_cv(c) == 0]
    assert fixed
    for case in fixed:
        t = pc._best_target(case, pc._targets(case, load_model(case.model)))
        assert pc.simulation_draws(case, t) == sim.SEEDS[:1]


def test_worker_processes_give_identical_results() -> None:
    cases = apply_filter(load_cases(None), parse_filter("hardware=mi325x"))
    serial = run_cases(cases, predict_case)
    parallel = run_cases(cases, predict_case, workers=2)
    assert [r.predicted for r in serial] == [r.predicted for r in parallel]
    assert [r.id for r in serial] == [c.id for c in cases]


def test_rejected_setups_are_unsupported_but_unknown_ids_fail() -> None:
    from modelchip.errors import UnknownIdError
    from modelchip.validate.cases import Case, Unsupported

    base = load_cases(None)[0].model_dump(mode="json", exclude_unset=True)
    too_small = {**base, "id": "x1", "model": "meta-llama/Meta-Llama-3.1-405B", "hardware": "mi300x",
                 "system": None, "chips": 1, "parallel": {"tp": 1}, "precision": "bf16",
                 "mode": "decode", "metric": "decode_tokens_per_s_per_chip",
                 "workload": {"isl": 1000, "osl": 100, "batch_per_chip": 8}}  # fmt: skip
    with pytest.raises(Unsupported, match="does not fit"):
        predict_case(Case.model_validate(too_small))
    with pytest.raises(UnknownIdError):
        predict_case(Case.model_validate({**too_small, "hardware": "no-such-chip"}))


def test_latency_past_capacity_is_unsupported_with_the_reason() -> None:
    """MLPerf's B200 Llama-3.1-405B Server load on MetaX C550s is ~80x what they serve: no request
    finishes in the simulated steady window, so the case is unsupported with the model's capacity
    (not a NaN latency)."""
    from modelchip.validate.cases import Unsupported

    case = next(c for c in load_cases(None) if c.id == "mlperf51-8xb200-llama31-405b-server-ttft")
    with pytest.raises(Unsupported, match="past this deployment's capacity"):
        predict_case(case.model_copy(update={"hardware": "metax-c550", "system": None}))


def test_throughput_at_an_unknown_poisson_rate_is_unsupported_with_the_capacity() -> None:
    """An open-loop throughput with no rate, slo or batch is the demand the run saw: unsupported, with
    the model's capacity as the upper bound; giving a batch (or a rate) makes the same setup predictable."""
    from modelchip.validate.cases import Case, Unsupported
    from modelchip.validate.predict_case import demand_limited

    base = load_cases(None)[0].model_dump(mode="json", exclude_unset=True)
    fleet = {**base, "id": "fleet", "model": "deepseek-ai/DeepSeek-R1", "hardware": "h800-sxm",
             "system": "hgx-h800", "chips": 32, "parallel": {"dp": 32, "ep": 32}, "precision": "fp8",
             "mode": "prefill", "metric": "prefill_tokens_per_s_per_chip", "speculative": None, "slo": None,
             "workload": {"isl": 4000, "scenario": "poisson"}}  # fmt: skip
    case = Case.model_validate(fleet)
    assert demand_limited(case)
    with pytest.raises(Unsupported, match=r"upper bound.*request_rate"):
        predict_case(case)
    sized = Case.model_validate({**fleet, "workload": {"isl": 4000, "scenario": "poisson", "tokens_per_chip": 16384}})
    assert not demand_limited(sized)
    assert predict_case(sized) > 0


def test_an_mlperf_throughput_is_capacity_even_without_its_slo() -> None:
    """MLPerf submitters raise the Poisson rate to the most the system serves, so a Server throughput
    that lost its slo field is still the deployment's capacity, not an unknown demand."""
    from modelchip.validate.predict_case import demand_limited

    case = next(c for c in load_cases(None) if c.id == "mlperf51-8xb200-llama2-70b-server")
    workload = case.workload.model_copy(update={"request_rate": None})
    stripped = case.model_copy(update={"slo": None, "workload": workload})
    assert not demand_limited(stripped)
    assert predict_case(stripped) > 0
    assert demand_limited(stripped.model_copy(update={"trust": "operator"}))
