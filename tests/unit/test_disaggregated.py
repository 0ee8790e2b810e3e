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
