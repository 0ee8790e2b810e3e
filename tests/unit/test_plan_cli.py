"""`modelchip plan | compare | migrate | sweep`: JSON shapes, CSV/HTML files, workload files, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from modelchip.cli.app import main

MODEL = "meta-llama/Meta-Llama-3.1-8B"
SMALL = ["--model", MODEL, "--max-chips", "2", "--backend", "serial"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_plan_json_best_meets_the_slo(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "plan", "hgx-h100", *SMALL, "--slo-tpot", "25", "--slo-ttft", "1000")
    assert data["error"] is None and data["best"]["TPOT ms"] <= 25.0 and data["best"]["TTFT ms"] <= 1000.0
    assert data["ranked"][0] == data["best"]
    assert set(data["best_by_objective"]) == {"chip", "kw", "dollar", "rack", "system"}


def test_plan_writes_csv_and_self_contained_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report, table = tmp_path / "plan.html", tmp_path / "plan.csv"
    code, out, err = _run(capsys, "plan", "hgx-h100", *SMALL, "--report", str(report), "--csv", str(table))
    assert code == 0, err
    assert "Pareto frontier" in out
    html = report.read_text()
    assert "<svg" in html and "<script" not in html and "http://" not in html.split("<svg")[0]
    rows = list(csv.DictReader(table.open()))
    assert rows and {"deployment", "tok/s/chip", "TPOT ms", "decode bound"} <= set(rows[0])


def test_workload_file_and_presets(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wl = tmp_path / "mine.yaml"
    wl.write_text("name: mine\nisl: 2000\nosl: 100\n")
    data = _json(capsys, "plan", "hgx-h100", *SMALL, "--workload", str(wl))
    assert data["workload"]["isl"] == 2000.0 and data["workload"]["name"] == "mine"
    data = _json(capsys, "plan", "hgx-h100", *SMALL, "--workload", "rag")
    assert data["workload"]["isl"] == 8192.0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--workload", "nope"], "unknown workload 'nope'"),
        (["--slo-tpot", "-1"], "--slo-tpot must be > 0"),
        (["--objective", "speed"], "unknown objective 'speed'"),
        (["--slo-ttft", "0.01", "--slo-tpot", "0.01"], "no configuration meets TTFT <= 0.01 ms / TPOT <= 0.01 ms"),
        (["--backend", "gpu"], "unknown backend 'gpu'"),
        (["--osl-cv", "-0.5"], "--osl-cv must be >= 0"),
    ],
)
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    code, _, err = _run(capsys, "plan", "hgx-h100", *SMALL, *args)
    assert code == 2 and expected in err and len(err.strip().splitlines()) <= 3


def test_output_length_spread_lengthens_the_batch_context(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Spread output lengths (length-biased batch) mean longer KV per sequence: fewer fit, less tok/s/chip."""
    fixed = _json(capsys, "plan", "hgx-h100", *SMALL, "--workload", "reasoning", "--simulate", "0")
    spread = _json(capsys, "plan", "hgx-h100", *SMALL, "--workload", "reasoning", "--osl-cv", "1", "--simulate", "0")
    assert fixed["workload"]["osl_cv"] == 0.0 and spread["workload"]["osl_cv"] == 1.0
    assert spread["best"]["tok/s/chip"] < fixed["best"]["tok/s/chip"]
    wl = tmp_path / "spread.yaml"
    wl.write_text("isl: 1024\nosl: 4096\nosl_cv: 1.0\n")
    from_file = _json(capsys, "plan", "hgx-h100", *SMALL, "--workload", str(wl), "--simulate", "0")
    assert from_file["best"]["tok/s/chip"] == pytest.approx(spread["best"]["tok/s/chip"])
    wl.write_text("isl: 1024\nosl: 4096\nosl_cv: -1\n")
    code, _, err = _run(capsys, "plan", "hgx-h100", *SMALL, "--workload", str(wl))
    assert code == 2 and "field 'osl_cv' must be a number >= 0" in err


def test_bad_workload_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wl = tmp_path / "bad.json"
    wl.write_text('{"isl": -5, "osl": 10}')
    code, _, err = _run(capsys, "plan", "hgx-h100", *SMALL, "--workload", str(wl))
    assert code == 2 and "field 'isl' must be a positive number" in err


def test_model_that_fits_nowhere(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "plan", "hgx-h100", "--model", "deepseek-ai/DeepSeek-R1", "--max-chips", "1")
    assert code == 2 and "fits nowhere on hgx-h100" in err and "GB per device" in err


def test_compare_json_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "cmp.html"
    data = _json(capsys, "compare", "hgx-h100", "hgx-h200", *SMALL, "--slo-tpot", "30", "--report", str(report))
    assert [p["system"] for p in data["plans"]] == ["hgx-h100", "hgx-h200"]
    assert {w["objective"] for w in data["wins"]} >= {"chip", "kw"}
    html = report.read_text()
    assert html.count("<svg") == 1 and "hgx-h200" in html and "Where each wins" in html


def test_migrate_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "migrate", "--from", "hgx-h20", "--chips", "8", "--to", "hgx-h200", "--model", MODEL,
                 "--backend", "serial", "--slo-tpot", "30")  # fmt: skip
    rep = data["replacements"][0]
    assert rep["system"] == "hgx-h200" and rep["tok/s"] >= data["source_tokens_per_s"] * 0.999


def test_sweep_resumes_from_its_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    argv = ["sweep", "--model", MODEL, "--system", "hgx-h100", "--backend", "serial", "--db", str(db)]
    first = _json(capsys, *argv)
    second = _json(capsys, *argv)
    assert first["evaluated"] > 0 and first["reused"] == 0
    assert second["evaluated"] == 0 and second["reused"] == first["evaluated"]
    assert second["plans"][0]["best"] == first["plans"][0]["best"]


def test_plan_says_which_fp8_cache_mla_rate_it_models_on_blackwell(capsys: pytest.CaptureFixture[str]) -> None:
    """The planner ranks BF16 caches first for DeepSeek-R1 on B200 (FlashMLA's FP8-cache rate is below the
    BF16 one); its output says so, beside the ranking the note explains."""
    code, out, err = _run(
        capsys, "plan", "hgx-b200", "--model", "deepseek-ai/DeepSeek-R1", "--slo-tpot", "50", "--backend", "serial"
    )
    assert code == 0, err
    flat = " ".join(out.split())
    assert "MLA decode over an FP8 cache is modelled at 350 TFLOPS" in flat
    assert "an FP8 cache decodes faster than this says" in flat
