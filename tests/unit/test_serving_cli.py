"""`modelchip simulate`: JSON shape, files written by --out, trace workloads, disaggregation, and
one-line errors for bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from modelchip.cli.app import main

BASE = ("simulate", "--model", "meta-llama/Meta-Llama-3.1-70B", "--hardware", "hgx-h100", "--tp", "8")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*BASE, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_json_has_latency_throughput_and_slo(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--workload", "chat", "--rate", "8", "--requests", "300", "--slo-ttft", "2s",
                 "--slo-tpot", "50ms")  # fmt: skip
    assert data["completed"] == 300 and data["chips"] == 8
    assert data["workload"]["mean_isl"] == 1024 and data["workload"]["arrival"]["kind"] == "Poisson"
    assert data["slo"] == {"ttft_s": 2.0, "tpot_s": 0.05, "e2e_s": None}
    for key in ("ttft", "tpot", "itl", "e2e"):
        assert 0 < data[key]["p50_s"] <= data[key]["p90_s"] <= data[key]["p99_s"]
    # completed / (last end - first arrival): the offered 8/s, diluted by the ~7 s drain of the last replies
    assert data["throughput"]["requests_per_s"] == pytest.approx(300 / data["duration_s"])
    assert 300 / (300 / 8 + 2 * data["e2e"]["p99_s"]) < data["throughput"]["requests_per_s"] < 8 * 1.15
    assert data["goodput_requests_per_s"] <= data["throughput"]["requests_per_s"]


def test_out_writes_csv_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "--isl", "512", "--osl", "64", "--isl-dist", "lognormal", "--isl-sigma", "0.5",
                          "--concurrency", "16", "--requests", "100", "--out", str(tmp_path))  # fmt: skip
    assert code == 0, err
    assert "TTFT" in out and "goodput" in out
    with (tmp_path / "requests.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 100 and {r["status"] for r in rows} == {"done"}
    assert len({r["isl"] for r in rows}) > 10  # lognormal lengths, not fixed
    for name in ("timeline.csv", "summary.json", "timeline.png", "latency_cdf.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "timeline.png").read_bytes()[:4] == b"\x89PNG"


def test_trace_workload_uses_its_times(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "burst.csv"
    trace.write_text("Timestamp,Request tokens,Response tokens\n0,500,20\n2,800,30\n4,300,10\n")
    data = _json(capsys, "--workload", str(trace))
    assert data["completed"] == 3 and data["workload"]["arrival"]["kind"] == "TraceTimes"
    assert data["duration_s"] > 4.0


def test_disaggregated_and_instances(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--disaggregated", "--prefill-workers", "2", "--prefill-layout", "tp=4", "--instances", "2",
                 "--workload", "rag", "--rate", "2", "--requests", "60")  # fmt: skip
    assert data["chips"] == 2 * 8 + 2 * 4
    assert data["prefill"]["instances"] == 2 and data["prefill"]["layout"]["tp"] == 4
    assert data["completed"] == 60


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--workload", "chatty", "--rate", "1"), "presets: chat, code, rag, reasoning"),
        (("--rate", "1", "--concurrency", "4"), "not both"),
        (("--requests", "10"), "pass --rate R (Poisson) or --concurrency C"),
        (("--rate", "1", "--slo-ttft", "soon"), "--slo-ttft: cannot read 'soon'"),
        (("--rate", "1", "--isl-dist", "pareto"), "choose one of fixed, uniform"),
        (("--rate", "1", "--router", "random"), "unknown router 'random'"),
        (("--rate", "1", "--chips", "4"), "--chips 4 but tp x pp x dp = 8"),
        (("--workload", "missing.csv"), "missing.csv: cannot read trace"),
        (("--disaggregated", "--prefill-layout", "tp4", "--rate", "1"), "--prefill-layout: cannot read 'tp4'"),
    ],
)
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert message in " ".join(err.split())


def test_offered_load_is_reported_and_past_capacity_is_flagged(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--workload", "chat", "--rate", "8", "--requests", "200")
    assert 0 < data["offered_load"] < 0.9
    code, out, _ = _run(capsys, "--workload", "chat", "--rate", "80", "--requests", "600")
    assert code == 0
    assert "past capacity" in " ".join(out.split())
    assert _json(capsys, "--workload", "chat", "--concurrency", "8", "--requests", "50")["offered_load"] is None


def test_precision_flags_reach_the_simulated_engine(capsys: pytest.CaptureFixture[str]) -> None:
    """--precision/--activations/--kv-cache/--attention are the case format's fields: FP8 weights with FP8
    activations and KV serve the same closed loop faster than BF16; a bad format is one line, exit 2."""
    loop = ("--isl", "2048", "--osl", "128", "--concurrency", "64", "--requests", "128")
    bf16 = _json(capsys, *loop, "--precision", "bf16")
    fp8 = _json(capsys, *loop, "--precision", "fp8", "--activations", "fp8", "--kv-cache", "fp8", "--attention", "fp8")
    assert fp8["throughput"]["output_tokens_per_s"] > 1.2 * bf16["throughput"]["output_tokens_per_s"]
    code, _, err = _run(capsys, *loop, "--moe-precision", "fp7")
    assert code == 2 and "unknown moe precision 'fp7'" in err and err.count("\n") == 1


def test_token_budget_auto_fits_the_tpot_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-batched-tokens auto: the most tokens per step whose step fits --slo-tpot; tighter limits give
    smaller budgets, and a fixed budget is passed through. Without --slo-tpot, or unreadable: one line."""
    common = ("--isl", "1024", "--osl", "64", "--rate", "4", "--requests", "120", "--max-batched-tokens", "auto")
    tight = _json(capsys, *common, "--slo-tpot", "60ms")["engine"]["max_batched_tokens_per_rank"]
    loose = _json(capsys, *common, "--slo-tpot", "400ms")["engine"]["max_batched_tokens_per_rank"]
    assert 1 <= tight < loose <= 8192
    fixed = _json(capsys, "--rate", "4", "--requests", "60", "--max-batched-tokens", "512")
    assert fixed["engine"]["max_batched_tokens_per_rank"] == 512
    for bad, message in ((("--max-batched-tokens", "auto"), "give --slo-tpot too"),
                         (("--max-batched-tokens", "12x"), "cannot read '12x'")):  # fmt: skip
        code, _, err = _run(capsys, "--rate", "4", "--requests", "60", *bad)
        assert code == 2 and message in err and err.count("\n") == 1


def test_v0_scheduler_flags_lengthen_the_wait_for_a_first_token(capsys: pytest.CaptureFixture[str]) -> None:
    """The V0 engine (no chunked prefill, 9-step runs) holds a new prompt until the running batch's run
    ends; the flags override the engine's own scheduler settings."""
    args = ("--workload", "chat", "--rate", "2", "--requests", "200")
    v0 = _json(capsys, *args, "--engine", "vllm-v0-multistep")
    v1 = _json(capsys, *args, "--engine", "vllm")
    forced = _json(capsys, *args, "--engine", "vllm", "--no-chunked-prefill", "--scheduler-steps", "9")
    assert v0["ttft"]["mean_s"] > 1.5 * v1["ttft"]["mean_s"]
    assert forced["ttft"]["mean_s"] > 1.5 * v1["ttft"]["mean_s"]
    code, out, _ = _run(capsys, *args, "--engine", "vllm-v0-multistep")
    assert code == 0 and "whole prompts in prefill-only steps, 9-step decode runs" in out
    code, _, err = _run(capsys, *args, "--scheduler-steps", "0")
    assert code != 0 and "--scheduler-steps must be >= 1" in err and "Traceback" not in err


def test_min_queued_prompts_flag_holds_prompts_for_a_group(capsys: pytest.CaptureFixture[str]) -> None:
    """--min-queued-prompts N (AMD's MLPerf Server prompt gate): while sequences decode, prompts wait for
    N to queue, so at 2 requests/s a group of 8 adds about (8 - 1) / 2 / 2 = 1.75 s to the mean TTFT."""
    args = ("--workload", "chat", "--rate", "2", "--requests", "200", "--engine", "vllm-v0-multistep")
    free = _json(capsys, *args)
    held = _json(capsys, *args, "--min-queued-prompts", "8")
    assert held["ttft"]["mean_s"] > free["ttft"]["mean_s"] + 1.0
    code, out, _ = _run(capsys, *args, "--min-queued-prompts", "8")
    assert code == 0 and "prompts start in groups of 8" in " ".join(out.split())
    code, _, err = _run(capsys, *args, "--min-queued-prompts", "-1")
    assert code == 2 and "--min-queued-prompts must be >= 0" in err and err.count("\n") == 1
