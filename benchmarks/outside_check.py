"""Outside check: replay TensorRT-LLM's published per-GPU throughputs (benchmarks/outside/*.yaml, in the
validation case format) and report the error by model and hardware. Run with `make outside`.

These measurements are not the project's validation set and no parameter is set from them; they show
how the model does on models and layouts the public cases barely cover (small-expert MoE models,
attention-DP layouts on 2-8 GPUs, long inputs and outputs). Recorded results are in the README.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from modelchip.validate import load_cases, run_cases, summarize
from modelchip.validate.predict_case import predict_case

OUTSIDE = Path(__file__).parent / "outside"


def main() -> None:
    for path in sorted(OUTSIDE.glob("*.yaml")):
        cases = load_cases([path])
        results = run_cases(cases, predict_case, workers=2)
        overall = summarize(results).overall
        print(
            f"{path.name}: {overall.n} cases, median |err| {overall.median_abs_error:.1%}, "
            f"p90 {overall.p90_abs_error:.1%}, within 15% {overall.within_15:.0%}"
        )
        groups: dict[tuple[str, str], list[float]] = defaultdict(list)
        for case, result in zip(cases, results, strict=True):
            if result.error is not None:
                groups[(case.model.split("/")[-1], case.hardware)].append(result.error)
        for (model, hardware), errors in sorted(groups.items()):
            signed = sorted(errors)
            print(
                f"  {model:34s} {hardware:9s} n={len(errors):2d}  signed error {signed[0]:+.0%} .. {signed[-1]:+.0%}, "
                f"median {signed[len(signed) // 2]:+.0%}"
            )


if __name__ == "__main__":
    main()
