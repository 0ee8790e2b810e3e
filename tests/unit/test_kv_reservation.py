"""TensorRT-LLM's default capacity scheduler (GUARANTEED_NO_EVICT) reserves a request's prompt plus its
whole output before starting it; vLLM and SGLang allocate KV blocks as a sequence grows. MLPerf harnesses
override it (NVIDIA's sets batch_scheduler_policy max_util)."""

from __future__ import annotations

import pytest
from test_serving_fakes import FakeClock, run_fake

from modelchip.deploy.layout import Layout
from modelchip.models.hf import load_model
from modelchip.perf import analytic as an
from modelchip.perf.build import build_target
from modelchip.validate import load_cases
from modelchip.validate import predict_case as pc
from modelchip.workload.arrivals import Poisson

MODEL = "meta-llama/Meta-Llama-3.1-8B"


def test_engine_profiles_say_who_reserves_the_full_length() -> None:
    assert build_target(MODEL, "h100-sxm", Layout(), engine="trtllm").engine.kv_reservation == "full_length"
    for engine in ("vllm", "sglang", None):
        assert build_target(MODEL, "h100-sxm", Layout(), engine=engine).engine.kv_reservation == "current"


@pytest.mark.parametrize(("isl", "osl", "cv"), [(1000, 1000, 0.0), (200, 3000, 0.0), (800, 3700, 1.0)])
def test_full_length_reservation_fits_fewer_sequences_by_the_length_ratio(isl: int, osl: int, cv: float) -> None:
    """KV per running sequence: the length-biased current context isl + osl (1 + cv^2) / 2 against the
    reserved full length isl + osl (1 + cv^2); the sequences that fit scale inversely."""
    w = an.Workload(isl, osl, osl_cv=cv)
    # H200 so that neither count reaches the engine cap
    grows = an.max_concurrency_per_rank(build_target(MODEL, "h200-sxm", Layout(), engine="vllm"), w)
    reserves = an.max_concurrency_per_rank(build_target(MODEL, "h200-sxm", Layout(), engine="trtllm"), w)
    assert reserves < grows < an.MAX_RUNNING_PER_RANK
    assert reserves / grows == pytest.approx(w.mean_context / w.full_context, rel=1e-6)


def test_mlperf_cases_admit_by_the_current_length() -> None:
    cases = {c.id: c for c in load_cases()}
    mlperf = cases["mlperf51-8xb200-llama2-70b-offline"]
    bench = cases["trtllm-po-b200-llama33-70b-tp1-1000-1000"]
    assert mlperf.engine == bench.engine == "trtllm"
    assert pc._targets(mlperf, load_model(mlperf.model))[0].engine.kv_reservation == "current"
    assert pc._targets(bench, load_model(bench.model))[0].engine.kv_reservation == "full_length"


def test_simulator_admits_only_what_it_can_reserve_and_never_preempts() -> None:
    """1,000 tokens of KV, requests of 100 + 300 tokens arriving together: reserving 416 tokens each (with
    the block in progress) lets two run, so the third starts only when one finishes. Allocating as they
    grow starts more at once and then has to preempt."""
    isl, osl, arrivals = [100] * 6, [300] * 6, [0.0] * 6
    reserving_clock = FakeClock(capacity_tokens=1000, reserve_full_length=True)
    reserving = run_fake(isl, osl, Poisson(1.0), arrivals, clock=reserving_clock)
    growing = run_fake(isl, osl, Poisson(1.0), arrivals, clock=FakeClock(capacity_tokens=1000))
    r = reserving.requests
    first_finish = min(r[0].finish_s, r[1].finish_s)
    assert all(q.finish_s == q.finish_s for q in r)  # every request completes
    assert all(q.preemptions == 0 for q in r)
    assert r[2].first_s >= first_finish
    assert growing.requests[2].first_s < first_finish
    assert sum(q.preemptions for q in growing.requests) > 0


def test_trtllm_max_util_is_trtllm_admitting_by_the_current_length() -> None:
    """`--engine trtllm-max-util`: TensorRT-LLM with the MAX_UTILIZATION policy, as MLPerf harnesses run it."""
    w = an.Workload(1000, 1000)
    reserving = build_target(MODEL, "h200-sxm", Layout(), engine="trtllm")
    packing = build_target(MODEL, "h200-sxm", Layout(), engine="trtllm-max-util")
    assert packing.engine.kv_reservation == "current"
    # everything else is TensorRT-LLM's own profile
    same_policy = {"kv_reservation": "full_length", "kv_reservation_source": reserving.engine.kv_reservation_source}
    assert packing.engine.model_copy(update=same_policy) == reserving.engine
    assert an.max_concurrency_per_rank(packing, w) > an.max_concurrency_per_rank(reserving, w)


def test_predict_says_when_an_engine_has_no_profile() -> None:
    from modelchip.perf.predict import PredictRequest, predict

    typo = predict(PredictRequest(MODEL, "h100-sxm", engine="trtlm"))
    assert any("'trtlm' has no profile" in note and "trtllm" in note for note in typo.notes)
    known = predict(PredictRequest(MODEL, "h100-sxm", engine="trtllm"))
    assert not any("no profile" in note for note in known.notes)
    assert any("reserves KV" in note for note in known.notes)
