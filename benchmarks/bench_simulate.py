"""Serving-simulator speed (issue 5: 100,000 requests, ISL ~1k, OSL ~256, a busy 8-chip instance, in
<= 10 s on 2 cores). Run: `python benchmarks/bench_simulate.py`. Times include drawing the workload
and the memoised step-time grid (no warm-up run); building the Target is timed separately."""

from __future__ import annotations

import time

from modelchip.deploy.layout import Layout
from modelchip.perf.build import build_target
from modelchip.serving import PoolSpec, SimulationSpec, simulate
from modelchip.workload import Arrival, ClosedLoop, LengthDist, Poisson, WorkloadSpec

REQUESTS = 100_000
CASES: tuple[tuple[str, str, str, Layout, Arrival], ...] = (
    ("Llama-3.1-70B, hgx-h100 tp8, closed loop 256", "meta-llama/Meta-Llama-3.1-70B", "hgx-h100", Layout(tp=8),
     ClosedLoop(256)),
    ("Llama-3.1-70B, hgx-h100 tp8, Poisson 14 req/s", "meta-llama/Meta-Llama-3.1-70B", "hgx-h100", Layout(tp=8),
     Poisson(14.0)),
    ("DeepSeek-R1, hgx-h200 dp8 ep8, closed loop 1024", "deepseek-ai/DeepSeek-R1", "hgx-h200", Layout(dp=8, ep=8),
     ClosedLoop(1024)),
)  # fmt: skip


def main() -> None:
    for name, model, hardware, layout, arrival in CASES:
        start = time.perf_counter()
        target = build_target(model, hardware, layout)
        built = time.perf_counter() - start
        w = WorkloadSpec(LengthDist("lognormal", 1024, 0.5), LengthDist("lognormal", 256, 0.5), arrival, REQUESTS)
        start = time.perf_counter()
        r = simulate(SimulationSpec(PoolSpec(target), w, seed=0))
        elapsed = time.perf_counter() - start
        print(
            f"simulate {REQUESTS:,} requests, {name}: {elapsed:.2f} s ({len(r.timeline.time_s):,} steps; "
            f"target built in {built:.2f} s; {r.throughput.output_tokens_per_s_per_chip:,.0f} tok/s/chip)"
        )


if __name__ == "__main__":
    main()
