"""Output-length spread: the running batch's mean context is length-biased (isl + osl (1 + cv^2) / 2)."""

from __future__ import annotations

import numpy as np
import pytest

from modelchip.perf.analytic import Workload
from modelchip.validate.cases import Case
from modelchip.validate.predict_case import DATASET_OSL_CV, output_length_cv


def test_fixed_lengths_average_half_the_output() -> None:
    assert Workload(1000, 400).mean_context == pytest.approx(1200)


def test_spread_lengths_raise_the_batch_context() -> None:
    assert Workload(1000, 400, osl_cv=1.0).mean_context == pytest.approx(1400)


def test_formula_matches_a_sampled_running_batch() -> None:
    """Requests sit in the batch in proportion to their output length; sample that directly."""
    rng = np.random.default_rng(0)
    sigma = np.sqrt(np.log1p(0.8**2))
    osl = rng.lognormal(np.log(500) - sigma**2 / 2, sigma, 400_000)
    # A token-weighted draw of (request, position): context = isl + uniform share of that request's osl.
    weights = osl / osl.sum()
    picks = rng.choice(osl.size, 200_000, p=weights)
    context = 300 + osl[picks] * rng.random(picks.size)
    assert Workload(300, 500, osl_cv=0.8).mean_context == pytest.approx(context.mean(), rel=0.02)


def _case(**extra: object) -> Case:
    base: dict[str, object] = {
        "id": "x", "source": "s", "trust": "mlperf", "model": "m", "hardware": "h100-sxm", "chips": 1,
        "engine": "trtllm", "precision": "fp8", "mode": "aggregated", "metric": "output_tokens_per_s",
        "value": 1.0, "workload": {"isl": 100, "osl": 100},
    }  # fmt: skip
    base.update(extra)
    return Case.model_validate(base)


def test_dataset_benchmarks_spread_synthetic_ones_do_not() -> None:
    assert output_length_cv(_case()) == DATASET_OSL_CV
    assert output_length_cv(_case(trust="engine-blog")) == 0.0
    assert output_length_cv(_case(workload={"isl": 100, "osl": 100, "osl_cv": 0.3})) == 0.3
