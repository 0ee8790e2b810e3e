"""`validate --explain`: how the model answered one case."""

from __future__ import annotations

import json

import pytest

from modelchip.cli.app import main
from modelchip.validate import load_cases
from modelchip.validate.explain import explain_case
from modelchip.validate.predict_case import predict_case


@pytest.fixture(scope="module")
def cases():  # type: ignore[no-untyped-def]
    return {c.id: c for c in load_cases(None)}


def test_a_stated_decode_pool_is_explained_by_its_own_numbers(cases) -> None:  # type: ignore[no-untyped-def]
    case = cases["sglang-h100-decode-2k"]
    e = explain_case(case)
    assert e.predicted == pytest.approx(predict_case(case))
    assert e.layout_stated and len(e.layouts) == 1 and e.layouts[0].chosen
    assert e.point is not None and e.point.batch_per_rank == pytest.approx(case.workload.batch_per_chip)
    assert e.point.tokens_per_s_per_chip == pytest.approx(e.predicted)
    times = [ms for _, ms, _ in e.top_ops_ms]
    assert times == sorted(times, reverse=True) and times[0] > 0
    assert "decode pool" in e.how


def test_an_unstated_layout_lists_the_candidates_and_the_choice(cases) -> None:  # type: ignore[no-untyped-def]
    case = cases["mlperf51-16xh100-cisco-llama31-405b-server-tpot"]
    e = explain_case(case)
    chosen = [o for o in e.layouts if o.chosen]
    assert not e.layout_stated and len(e.layouts) > 1 and len(chosen) == 1
    assert chosen[0].value == pytest.approx(e.predicted)
    assert "simulator" in e.how
    # MLPerf Server's 175 ms p99 TPOT limit sizes the engine's token budget, and the explanation says so.
    assert "tokens per step (the most whose step fits the 175 ms TPOT limit)" in e.how
    assert "the median of 3 request draws" in e.how


def test_an_unsupported_case_keeps_its_reason_and_the_setup(cases) -> None:  # type: ignore[no-untyped-def]
    e = explain_case(cases["deepseek-h800-prod-prefill"])
    assert e.predicted is None and e.unsupported and "upper bound" in e.unsupported
    assert e.point is not None and e.point.tokens_per_s_per_chip > 0


def test_cli_explain_prints_json_and_rejects_unknown_ids(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["validate", "--explain", "cm384-decode-tpot50", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "cm384-decode-tpot50" and data["layouts"][0]["chosen"]
    assert main(["validate", "--explain", "cm384-decode-tpot5"]) == 2
    assert "unknown case id" in capsys.readouterr().err


def test_a_dashboard_envelope_lists_each_engine_and_explains_the_best(cases) -> None:  # type: ignore[no-untyped-def]
    case = cases["inferencex-h100-dsr1-fp8-1k1k-at42"]
    e = explain_case(case)
    names = [name for name, _ in e.engines]
    assert names == ["sglang", "trtllm", "vllm"]
    values = [v for _, v in e.engines if v is not None]
    assert max(values) == pytest.approx(e.predicted)
    assert e.how.startswith("dashboard envelope")


def test_a_poisson_latency_case_shows_each_request_draw(cases, capsys) -> None:  # type: ignore[no-untyped-def]
    from statistics import median

    case_id = "mlperf51-8xh200-nebius-llama2-70b-interactive-ttft"
    e = explain_case(cases[case_id])
    assert len(e.draws) == 3 and e.predicted == pytest.approx(median(e.draws))
    assert min(e.draws) < max(e.draws)  # independent draws of arrivals and output lengths
    assert main(["validate", "--explain", case_id]) == 0
    assert "request draws: " in capsys.readouterr().out
