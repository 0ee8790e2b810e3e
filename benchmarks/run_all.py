"""Speed benchmarks (recorded in the README). Run with `make bench`.

- predict: wall time of one `predict()` call (DeepSeek-R1 on CloudMatrix384, and Llama-3.1-70B on H100),
  median of repeated calls after a warm-up.
- vectorised: decode step times per second for 100,000 (batch, context) points of one deployment.
- validate: wall time of replaying the bundled public cases.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from modelchip.deploy.layout import Layout
from modelchip.perf import vector
from modelchip.perf.build import build_target
from modelchip.perf.predict import PredictRequest, predict
from modelchip.validate import load_cases, run_cases, summarize
from modelchip.validate.predict_case import predict_case


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    dsr1 = PredictRequest("deepseek-ai/DeepSeek-R1", "cloudmatrix384", layout=Layout(dp=16, ep=32), batch=1536)
    llama = PredictRequest("meta-llama/Meta-Llama-3.1-70B", "h100-sxm", layout=Layout(tp=4), batch=128)
    for name, req in (
        ("predict DeepSeek-R1 on cloudmatrix384 (dp16 ep32)", dsr1),
        ("predict Llama-3.1-70B tp4 h100", llama),
    ):
        print(f"{name}: {_median_time(lambda r=req: predict(r), 50) * 1e3:.2f} ms")
    for model, hw, layout, engine in (
        ("deepseek-ai/DeepSeek-R1", "hgx-h800", Layout(dp=16, ep=16), "sglang"),
        ("meta-llama/Meta-Llama-3.1-70B", "hgx-h100", Layout(tp=4), "trtllm"),
    ):
        t = build_target(model, hw, layout, engine=engine)
        batch, ctx = np.linspace(1, 1024, 100_000), np.linspace(128, 16384, 100_000)
        seconds = _median_time(lambda t=t, b=batch, c=ctx: vector.decode_step_times(t, b, c), 5)
        print(f"vectorised decode grid {model} on {hw}: {batch.size / seconds:,.0f} points/s")
    cases = load_cases(None)
    for workers in (2, 1):  # 2: as `modelchip validate` runs by default (target < 30 s, issue 4)
        start = time.perf_counter()
        summary = summarize(run_cases(cases, predict_case, workers=workers))
        print(f"validate {summary.n_cases} public cases, {workers} process(es): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
