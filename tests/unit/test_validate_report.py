"""Validation summary statistics, JSON/CSV output and the HTML report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelchip.validate import (
    Case,
    CaseResult,
    Unsupported,
    compute_stats,
    load_cases,
    read_csv,
    run_cases,
    summarize,
    to_json,
    write_csv,
    write_html_report,
)
from modelchip.validate.report_html import band_class, cases_table, link_source


def _res(
    case_id: str, predicted: float | None, measured: float = 100.0, hardware: str = "h100-sxm", **kw: str
) -> CaseResult:
    error = None if predicted is None else (predicted - measured) / measured
    fields = {"model": "m/a", "metric": "tpot_ms", "engine": "vllm", "trust": "paper", "mode": "aggregated"}
    fields.update(kw)
    return CaseResult(
        id=case_id,
        hardware=hardware,
        status="ok" if predicted is not None else "unsupported",
        predicted=predicted,
        measured=measured,
        error=error,
        reason="" if predicted is not None else "not modelled",
        source="blog, https://example.org/post",
        **fields,
    )


@pytest.fixture
def results() -> list[CaseResult]:
    # errors +0.1, -0.2, +0.4 and one unsupported case
    return [
        _res("a", 110.0),
        _res("b", 80.0, hardware="b200", metric="ttft_ms"),
        _res("c", 140.0, model="m/b"),
        _res("d", None, hardware="b200"),
    ]


def test_stats_hand_computed(results: list[CaseResult]) -> None:
    s = compute_stats(results)
    assert s.n == 3 and s.unsupported == 1
    assert s.median_abs_error == pytest.approx(0.2)
    # numpy linear percentile of [0.1, 0.2, 0.4] at 90: rank 1.8 -> 0.2 + 0.8 * 0.2
    assert s.p90_abs_error == pytest.approx(0.36)
    assert s.within_15 == pytest.approx(1 / 3) and s.within_30 == pytest.approx(2 / 3)
    assert s.mean_error == pytest.approx((0.1 - 0.2 + 0.4) / 3)


def test_band_edges_inclusive() -> None:
    s = compute_stats([_res("x", 115.0), _res("y", 70.0)])
    assert s.within_15 == 0.5 and s.within_30 == 1.0
    assert band_class(0.15) == "good" and band_class(-0.3) == "fair" and band_class(0.31) == "bad"
    assert band_class(None) == "na"


def test_empty_stats() -> None:
    s = compute_stats([_res("d", None)])
    assert s.n == 0 and s.unsupported == 1 and s.median_abs_error is None and s.within_15 is None


def test_summary_groups(results: list[CaseResult]) -> None:
    summary = summarize(results)
    assert (summary.n_cases, summary.n_supported, summary.n_unsupported) == (4, 3, 1)
    assert [(u.id, u.reason) for u in summary.unsupported] == [("d", "not modelled")]
    assert set(summary.groups) == {"hardware", "model", "metric", "trust", "engine"}
    assert summary.by_hardware["h100-sxm"].n == 2
    assert summary.by_hardware["h100-sxm"].median_abs_error == pytest.approx(0.25)
    assert summary.by_hardware["b200"].n == 1 and summary.by_hardware["b200"].unsupported == 1
    assert summary.by_model["m/b"].mean_error == pytest.approx(0.4)
    assert summary.by_metric["ttft_ms"].within_30 == 1.0
    assert summary.by_trust["paper"].n == 3 and summary.by_engine["vllm"].n == 3


def test_json_shape(results: list[CaseResult]) -> None:
    doc = to_json(summarize(results), results)
    doc = json.loads(json.dumps(doc))  # serialisable, no NaN
    assert set(doc) == {"summary", "cases"}
    assert doc["summary"]["overall"]["n"] == 3
    assert doc["summary"]["by_hardware"]["b200"]["n"] == 1
    assert doc["summary"]["unsupported"] == [{"id": "d", "reason": "not modelled"}]
    required = {"id", "metric", "hardware", "model", "status", "predicted", "measured", "error", "reason"}
    assert all(required <= set(c) for c in doc["cases"])
    assert [c["id"] for c in doc["cases"]] == ["a", "b", "c", "d"]
    assert doc["cases"][3]["predicted"] is None and doc["cases"][3]["status"] == "unsupported"
    assert doc["cases"][0]["error"] == pytest.approx(0.1)


def test_csv_round_trip(results: list[CaseResult], tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(results, path)
    assert path.read_text(encoding="utf-8").splitlines()[0].startswith("id,metric,hardware,model")
    assert read_csv(path) == results


def test_link_source() -> None:
    html = link_source("A <b> & C, github.com/o/r/blob/main/x.md (see https://arxiv.org/abs/1.2).")
    assert '<a href="https://github.com/o/r/blob/main/x.md"' in html
    assert '<a href="https://arxiv.org/abs/1.2" rel="noreferrer">https://arxiv.org/abs/1.2</a>).' in html
    assert "&lt;b&gt; &amp; C" in html
    assert link_source("arXiv 2506.12708 v5.1") == "arXiv 2506.12708 v5.1"


def _fake(case: Case) -> float:
    if case.hardware == "gb300":
        raise Unsupported("no GB300 <model> yet")
    return case.value * 1.1


def test_html_report_on_public_set(tmp_path: Path) -> None:
    cases = load_cases()
    results = run_cases(cases, _fake)
    summary = summarize(results)
    path = tmp_path / "sub" / "report.html"
    write_html_report(summary, results, path, title="Public <set>")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "</svg>" in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert "Public &lt;set&gt;" in html and "no GB300 &lt;model&gt; yet" in html
    for case in cases:
        assert f'id="case-{case.id}"' in html
    # self-contained: no scripts, no external stylesheets, images or fonts
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|@import)\s*[=(]?\s*["']?https?:""", html)
    assert "cdn" not in html.lower()
    assert 'href="https://arxiv.org/abs/2506.12708"' in html
    assert 'class="num good">+10.0%' in html


def test_html_report_without_supported_cases(tmp_path: Path) -> None:
    results = [_res("only", None)]
    path = tmp_path / "r.html"
    write_html_report(summarize(results), results, path, "empty")
    html = path.read_text(encoding="utf-8")
    assert "<svg" in html and "only" in html and "not modelled" in html


def test_load_column_round_trips_and_older_csvs_still_read(results: list[CaseResult], tmp_path: Path) -> None:
    import dataclasses

    loaded = [dataclasses.replace(r, load=0.5 + i / 10) for i, r in enumerate(results)]
    path = tmp_path / "load.csv"
    write_csv(loaded, path)
    assert read_csv(path) == loaded
    # A file written before the column existed reads back with no load.
    lines = path.read_text(encoding="utf-8").splitlines()
    cut = [line.rsplit(",", 1)[0] for line in lines]
    old = tmp_path / "old.csv"
    old.write_text("\n".join(cut) + "\n", encoding="utf-8")
    assert [r.load for r in read_csv(old)] == [None] * len(results)
    html = cases_table(loaded)
    assert "<th>load</th>" in html and '<td class="num">0.50</td>' in html


def test_offered_load_marks_poisson_cases_against_the_model_capacity() -> None:
    from modelchip.validate.predict_case import offered_load, with_loads

    by_id = {c.id: c for c in load_cases()}
    # B200 Llama-2-70B Server runs past the model's capacity (the README's knife-edge case);
    # its Interactive run sits well inside it; Offline and decode cases have no load.
    assert offered_load(by_id["mlperf51-8xb200-llama2-70b-server-ttft"]) > 1.0
    assert 0.3 < offered_load(by_id["mlperf51-8xb200-llama2-70b-interactive-ttft"]) < 0.9
    assert offered_load(by_id["mlperf51-8xb200-llama2-70b-offline"]) is None
    assert offered_load(by_id["cm384-decode-tpot50"]) is None
    cases = [by_id["mlperf51-8xb200-llama2-70b-server"], by_id["mlperf51-8xb200-llama2-70b-offline"]]
    filled = with_loads(cases, run_cases(cases, _fake))
    assert filled[0].load is not None and filled[1].load is None
