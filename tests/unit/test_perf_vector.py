"""The vectorised path agrees with the scalar path element by element."""

from __future__ import annotations

import numpy as np
import pytest

from modelchip.deploy.layout import Layout
from modelchip.perf import analytic as an
from modelchip.perf import vector as vec
from modelchip.perf.build import build_target
from modelchip.perf.target import Speculation

SETUPS = [
    ("deepseek-ai/DeepSeek-R1", "hgx-h800", Layout(dp=16, ep=16), "sglang", 1),  # EP, two-batch overlap, MTP
    ("meta-llama/Meta-Llama-3.1-70B", "hgx-h100", Layout(tp=4), "trtllm", 0),  # TP all-reduce
    ("openai/gpt-oss-120b", "b200", Layout(tp=2, pp=2), "vllm", 0),  # sliding windows, pipeline
    ("Qwen/Qwen3.5-397B-A17B", "ascend-910c", Layout(tp=8, ep=8), "vllm", 0),  # linear attention hybrid
]


@pytest.mark.parametrize(("model", "hw", "layout", "engine", "mtp"), SETUPS)
def test_decode_grid_matches_scalar(model: str, hw: str, layout: Layout, engine: str, mtp: int) -> None:
    t = build_target(model, hw, layout, engine=engine, speculation=Speculation(mtp, 0.7))
    batches = np.array([1.0, 3.0, 17.0, 128.0, 900.0])
    contexts = np.array([64.0, 1000.0, 4096.0, 9000.0, 30000.0])
    grid = vec.decode_step_times(t, batches, contexts)
    scalar = [an.decode_step(t, b, c).time_s for b, c in zip(batches, contexts, strict=True)]
    np.testing.assert_allclose(grid, scalar, rtol=1e-12)


def test_aggregated_grid_matches_scalar() -> None:
    t = build_target("meta-llama/Meta-Llama-3.1-8B", "h100-sxm", Layout(), engine="vllm")
    w = an.Workload(isl=1000, osl=200)
    conc = np.array([1.0, 8.0, 64.0, 256.0])
    grid = vec.aggregated_grid(t, w, conc)
    for i, c in enumerate(conc):
        point = an.aggregated_point(t, float(c), w)
        assert grid.tpot_s[i] == pytest.approx(point.tpot_s, rel=1e-12)
        assert grid.ttft_s[i] == pytest.approx(point.ttft_s, rel=1e-12)
        assert grid.output_tokens_per_s_per_chip[i] == pytest.approx(point.output_tokens_per_s_per_chip, rel=1e-12)


def test_grid_is_monotone_in_batch() -> None:
    t = build_target("deepseek-ai/DeepSeek-V3", "gb200-nvl72", Layout(dp=8, ep=8), engine="sglang")
    times = vec.decode_step_times(t, np.arange(1.0, 2049.0), 2048.0)
    assert np.all(np.diff(times) >= -1e-12)
