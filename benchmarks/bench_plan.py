"""Planner speed: a full `plan` of DeepSeek-R1 (chat, TTFT <= 2 s / TPOT <= 50 ms, aggregated and
disaggregated, every layout, format, KV format and MTP setting) on one system, on local worker
processes (2 on the development machine) and in-process. Target (issue 6): <= 2 s on 2 cores.

    python benchmarks/bench_plan.py [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from modelchip.search.backends import Runner
from modelchip.search.config import Slo
from modelchip.search.plan import PlanRequest, WorkloadSpec, plan

SYSTEMS = ("gb200-nvl72", "cloudmatrix384", "hgx-h200")


def _time(req: PlanRequest, backend: str, workers: int, repeats: int) -> tuple[float, int, int]:
    times, r = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        r = plan(req, Runner(backend, workers=workers))
        times.append(time.perf_counter() - start)
    assert r is not None
    return statistics.median(times), r.candidates, r.configs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    workload = WorkloadSpec("chat", 1024, 300)
    for system in SYSTEMS:
        req = PlanRequest("deepseek-ai/DeepSeek-R1", system, workload, Slo(2.0, 0.05))
        plan(req, Runner("serial"))  # warm caches (catalog, model, efficiency tables)
        for backend in ("local", "serial"):
            secs, cands, configs = _time(req, backend, args.workers, args.repeats)
            label = f"{backend} x{args.workers}" if backend == "local" else backend
            print(f"plan DeepSeek-R1 on {system} ({cands} candidates, {configs} points), {label}: {secs:.2f} s")


if __name__ == "__main__":
    main()
