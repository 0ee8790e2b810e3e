"""Disaggregated cases: prefill and decode pools in series (validate's predictor)."""

from __future__ import annotations

import pytest

from modelchip.validate.cases import Case, Unsupported
from modelchip.validate.predict_case import predict_case


def _case(metric: str, prefill_workers: int = 2, decode_workers: int = 1, tp: int = 4) -> Case:
    return Case.model_validate(
        {
            "id": "disagg", "source": "synthetic", "trust": "user", "model": "meta-llama/Meta-Llama-3.1-8B",
            "hardware": "h100-sxm", "chips": prefill_workers * tp + decode_workers * 8, "engine": "vllm",
            "precision": "fp8", "mode": "disaggregated", "workload": {"isl": 1024, "osl": 256},
            "prefill": {"workers": prefill_workers, "chips_per_worker": tp, "parallel": {"tp": tp}, "batch": 1},
            "decode": {"workers": decode_workers, "chips_per_worker": 8, "parallel": {"tp": 8}, "batch": 64},
            "metric": metric, "value": 1.0,
        }
    )  # fmt: skip


def test_disaggregated_latencies_are_positive() -> None:
    assert predict_case(_case("ttft_ms")) > 0
    assert 0 < predict_case(_case("tpot_ms")) < 1000


def test_system_rate_is_limited_by_the_slower_pool() -> None:
    # One prefill worker: adding decode workers raises throughput until the prefill pool is the
    # bottleneck, after which more decode workers change nothing.
    rates = [predict_case(_case("output_tokens_per_s", prefill_workers=1, decode_workers=n)) for n in (1, 4, 64)]
    assert rates[0] < rates[1]
    assert rates[2] == pytest.approx(rates[1], rel=1e-9)
    # ...and with many decode workers, more prefill workers raise it again.
    assert predict_case(_case("output_tokens_per_s", prefill_workers=4, decode_workers=64)) > rates[2]


def test_pool_layout_must_match_its_chips() -> None:
    case = _case("tpot_ms")
    bad = case.model_copy(update={"decode": case.decode.model_copy(update={"chips_per_worker": 4})})  # type: ignore[union-attr]
    with pytest.raises(Unsupported):
        predict_case(bad)


def _dashboard_case(engine: str) -> Case:
    """An InferenceX-style point: DeepSeek-R1 on 8 B200, best throughput at 42 tok/s/user."""
    return Case.model_validate(
        {
            "id": "dash", "source": "synthetic", "trust": "dashboard", "model": "deepseek-ai/DeepSeek-R1",
            "hardware": "b200", "system": "hgx-b200", "chips": 8, "engine": engine, "precision": "fp8",
            "mode": "aggregated", "workload": {"isl": 1024, "osl": 1024, "scenario": "closed_loop"},
            "metric": "output_tokens_per_s_per_chip", "value": 1.0,
            "slo": {"tokens_per_s_per_user": 42, "tpot_ms": 23.8},
        }
    )  # fmt: skip


def test_dashboard_envelope_with_dynamo_takes_the_better_of_aggregated_and_disaggregated() -> None:
    from modelchip.models.hf import load_model
    from modelchip.perf import analytic as an
    from modelchip.validate import predict_case as pc

    with_dynamo = _dashboard_case("best-of, +dynamo")  # no engine list: one (default) engine profile
    aggregated_only = _dashboard_case("best-of")
    assert pc.includes_disaggregated(with_dynamo) and not pc.includes_disaggregated(aggregated_only)
    targets = pc._targets(with_dynamo, load_model(with_dynamo.model))
    split = max(pc.disaggregated_envelope_per_chip(with_dynamo, t) for t in targets)
    assert predict_case(with_dynamo) == pytest.approx(max(predict_case(aggregated_only), split))
    assert split > predict_case(aggregated_only)  # decode free of prefill steps fits a larger batch at 23.8 ms

    # The envelope's decode batch is the largest meeting the TPOT limit, and the split balances the pools:
    # per chip 1 / (1/d + isl / (osl p)), below both the decode rate d and the prefill-limited p osl / isl.
    t = targets[0]
    w = pc._workload(with_dynamo)
    batch = pc.decode_batch_under_tpot(t, w.mean_context, 0.0238)
    assert batch is not None
    assert an.decode_pool(t, batch, w.mean_context)[0] <= 0.0238 < an.decode_pool(t, batch * 1.01, w.mean_context)[0]
    d = an.decode_pool(t, batch, w.mean_context)[1]
    p = an.prefill_pool(t, 16384.0 * t.layout.chips / t.attention_ranks, w)[0]
    per_chip = pc.disaggregated_envelope_per_chip(with_dynamo, t)
    assert per_chip == pytest.approx(1.0 / (1.0 / d + 1024 / (1024 * p)))
    assert per_chip < min(d, p)


def test_dashboard_envelope_is_the_best_of_the_engines_it_lists() -> None:
    from modelchip.validate import predict_case as pc

    case = _dashboard_case("best-of (sglang/trtllm/vllm, +dynamo)")
    assert pc.envelope_engines(case) == ["sglang", "trtllm", "vllm"]
    assert pc.envelope_engines(_dashboard_case("sglang")) == []
    each = [predict_case(case.model_copy(update={"engine": e})) for e in ("sglang", "trtllm", "vllm")]
    # Each single-engine copy keeps aggregated-only serving; the envelope adds the Dynamo split on top.
    assert predict_case(case) >= max(each)
    assert len({round(v) for v in each}) > 1  # the engines' host overheads and overlap differ
