"""Workload: length distributions keep their means, arrival processes their rates, traces load from
the public layouts, and bad input gets a one-line error naming the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelchip.errors import UserError
from modelchip.workload import (
    PRESETS,
    ClosedLoop,
    Gamma,
    LengthDist,
    Poisson,
    TraceColumns,
    TraceTimes,
    WorkloadSpec,
    generate,
    get_preset,
    load_trace,
    parse_columns,
    parse_duration,
    preset_workload,
    sample_lengths,
)
from modelchip.workload.arrivals import open_loop_times


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize(
    ("dist", "tolerance"),
    [
        (LengthDist("fixed", 1000), 0.0),
        (LengthDist("uniform", 1000, 500), 0.01),
        (LengthDist("normal", 1000, 200), 0.01),
        (LengthDist("lognormal", 1000, 0.8), 0.03),
        (LengthDist("zipf", 1000, 1.2), 0.05),
    ],
)
def test_distributions_keep_their_mean(dist: LengthDist, tolerance: float) -> None:
    x = sample_lengths(dist, 50_000, rng())
    assert x.dtype == np.int64 and x.min() >= 1
    assert x.mean() == pytest.approx(1000, rel=tolerance, abs=0.5)


def test_spread_shapes() -> None:
    uni = sample_lengths(LengthDist("uniform", 100, 50), 20_000, rng())
    assert (uni.min(), uni.max()) == (50, 150)
    logn = sample_lengths(LengthDist("lognormal", 1000, 1.0), 20_000, rng())
    assert np.median(logn) < 0.75 * logn.mean()  # right-skewed: median = mean x exp(-sigma^2 / 2)
    zipf = sample_lengths(LengthDist("zipf", 1000, 1.2), 20_000, rng())
    assert np.percentile(zipf, 99) > 5 * np.median(zipf)  # heavy tail


def test_clipping_to_low_and_high() -> None:
    x = sample_lengths(LengthDist("normal", 100, 1000, low=10, high=200), 5000, rng())
    assert x.min() == 10 and x.max() == 200


@pytest.mark.parametrize(
    ("dist", "message"),
    [
        (LengthDist("pareto", 100), "choose one of fixed, uniform"),
        (LengthDist("fixed", 0), "mean must be >= 1"),
        (LengthDist("zipf", 100, 0), "spread must be > 0"),
        (LengthDist("normal", 100, 10, low=50, high=20), "high (20) must be >= low (50)"),
    ],
)
def test_bad_distributions(dist: LengthDist, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sample_lengths(dist, 10, rng())


def test_poisson_and_gamma_rates_and_burstiness() -> None:
    p = np.diff(open_loop_times(Poisson(10.0), 40_000, rng()), prepend=0.0)
    g = np.diff(open_loop_times(Gamma(10.0, 3.0), 40_000, rng()), prepend=0.0)
    assert p.mean() == pytest.approx(0.1, rel=0.02)
    assert g.mean() == pytest.approx(0.1, rel=0.05)
    assert p.std() / p.mean() == pytest.approx(1.0, rel=0.03)
    assert g.std() / g.mean() == pytest.approx(3.0, rel=0.1)


def test_generate_is_seeded_and_closed_loop_has_no_times() -> None:
    w = WorkloadSpec(LengthDist("lognormal", 500, 0.5), LengthDist("fixed", 50), Poisson(5.0), 100)
    a, b = generate(w, rng(3)), generate(w, rng(3))
    np.testing.assert_array_equal(a.isl, b.isl)
    assert a.arrival_s is not None and b.arrival_s is not None
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    closed = generate(WorkloadSpec(arrival=ClosedLoop(4), requests=10), rng())
    assert closed.arrival_s is None and len(closed) == 10


def test_presets_have_sources_and_unknown_lists_them() -> None:
    assert {"chat", "reasoning", "rag", "code"} <= set(PRESETS)
    assert all(p.source and p.isl > 0 and p.osl > 0 for p in PRESETS.values())
    assert PRESETS["reasoning"].osl > PRESETS["reasoning"].isl
    assert PRESETS["rag"].isl >= 4 * PRESETS["chat"].isl
    w = preset_workload("chat", ClosedLoop(8), 100)
    assert (w.isl.mean, w.osl.mean) == (PRESETS["chat"].isl, PRESETS["chat"].osl)
    with pytest.raises(UserError, match="presets: chat, code, rag, reasoning"):
        get_preset("chatty")


@pytest.mark.parametrize(
    ("text", "seconds"), [("2s", 2.0), ("50ms", 0.05), ("300us", 3e-4), ("1.5", 1.5), ("2min", 120.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "2 hours", "-1s", "0ms", ""])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UserError, match="--slo-ttft"):
        parse_duration(text, "--slo-ttft")


AZURE = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:47.0000000,879,0
"""

BURSTGPT = """Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
5,ChatGPT,472,18,490,Conversation log
45,ChatGPT,1087,230,1317,Conversation log
"""


def test_azure_trace_with_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "azure.csv"
    path.write_text(AZURE)
    t = load_trace(path)
    np.testing.assert_allclose(t.arrival_s, [0.0, 0.3194100, 4.3145790], atol=1e-6)
    assert t.isl.tolist() == [374, 879, 396]  # sorted by time
    assert t.osl.tolist() == [44, 1, 109]  # a zero-token output counts as one token


def test_burstgpt_and_mooncake_layouts(tmp_path: Path) -> None:
    b = tmp_path / "burst.csv"
    b.write_text(BURSTGPT)
    t = load_trace(b)
    assert t.arrival_s.tolist() == [0.0, 40.0] and t.isl.tolist() == [472, 1087]
    m = tmp_path / "mooncake.jsonl"
    m.write_text(
        '{"timestamp": 0, "input_length": 6955, "output_length": 52, "hash_ids": [1]}\n'
        '{"timestamp": 1500, "input_length": 100, "output_length": 7}\n'
    )
    t = load_trace(m)
    assert t.arrival_s.tolist() == [0.0, 1.5] and t.osl.tolist() == [52, 7]


def test_custom_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("t_ms,prompt,completion\n0,10,5\n250,20,6\n")
    cols = parse_columns("arrival=t_ms,isl=prompt,osl=completion,scale=0.001")
    assert cols == TraceColumns("t_ms", "prompt", "completion", 0.001)
    t = load_trace(path, cols)
    assert t.arrival_s.tolist() == [0.0, 0.25]


def test_trace_errors_name_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_s,isl,osl\n0,10,5\n1,ten,5\n")
    with pytest.raises(UserError, match=r"bad.csv:3: column 'isl': 'ten' is not a token count"):
        load_trace(bad)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UserError, match=r"no known trace layout.*--trace-columns arrival=COL"):
        load_trace(unknown)
    with pytest.raises(UserError, match=r"no column 'prompt' for isl.*--trace-columns isl=COLUMN"):
        load_trace(unknown, TraceColumns("a", "prompt", "c"))
    js = tmp_path / "bad.jsonl"
    js.write_text('{"timestamp": 0, "input_length": 1, "output_length": 1}\n{oops\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: malformed JSON"):
        load_trace(js)
    with pytest.raises(UserError, match="lacks osl"):
        parse_columns("arrival=a,isl=b")


def test_trace_drives_lengths_and_times(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(BURSTGPT)
    trace = load_trace(path)
    w = WorkloadSpec(arrival=TraceTimes(speedup=2.0), requests=10, trace=trace)
    reqs = generate(w, rng())
    assert reqs.isl.tolist() == [472, 1087]
    assert reqs.arrival_s is not None and reqs.arrival_s.tolist() == [0.0, 20.0]
    with pytest.raises(UserError, match="need a trace file"):
        generate(WorkloadSpec(arrival=TraceTimes()), rng())
