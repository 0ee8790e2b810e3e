"""The planner's search: Pareto frontier, agreement with perf.analytic, SLO, budgets, infeasibility."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from modelchip.deploy.layout import Layout
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target
from modelchip.search.config import Slo, objective_value, pareto_front
from modelchip.search.evaluate import EvalTask, evaluate
from modelchip.search.plan import PlanRequest, WorkloadSpec, plan
from modelchip.search.space import Candidate, SearchSpace, enumerate_candidates

CHAT = WorkloadSpec("chat", 1024, 300)
SMALL = SearchSpace(max_chips=4, kv_formats=("bf16",), mtp=(0,))


def _llama() -> str:
    from modelchip.models.hf import list_models

    hits = [m for m in list_models() if "Llama-3.1-8B" in m or "Meta-Llama-3.1-8B" in m]
    if not hits:
        pytest.skip("no bundled Llama-3.1-8B config")
    return hits[0]


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] >= b[0] and a[1] >= b[1] and a != b


def test_pareto_front_is_non_dominated_and_covers_the_rest() -> None:
    rng = random.Random(7)
    pts = [(rng.random(), rng.random()) for _ in range(400)] + [(0.5, 0.5), (0.5, 0.5)]
    front = pareto_front(pts, lambda p: p[0], lambda p: p[1])
    for a in front:
        assert not any(_dominates(b, a) for b in pts)
    for p in pts:
        assert p in front or any(_dominates(f, p) for f in front)
    assert [p[0] for p in front] == sorted(p[0] for p in front)


def test_grid_points_match_the_scalar_analytical_model() -> None:
    model = _llama()
    cand = Candidate("hgx-h100", Layout(tp=2), "bf16", "bf16", 0, "vllm")
    e = evaluate(EvalTask(model, cand, 1024, 300))
    assert e.fits and len(e.points) > 3
    t = build_target(model, "hgx-h100", Layout(tp=2), PrecisionRequest("bf16", kv_cache="bf16"), "hgx-h100", "vllm")
    w = an.Workload(1024, 300)
    for p in e.points:
        ref = an.aggregated_point(t, p.concurrency_per_rank, w)
        assert p.tpot_s == pytest.approx(ref.tpot_s, rel=1e-9)
        assert p.ttft_s == pytest.approx(ref.ttft_s, rel=1e-9)
        assert p.tokens_per_s_per_chip == pytest.approx(ref.output_tokens_per_s_per_chip, rel=1e-9)
        tpot, per_chip, _ = an.decode_pool(t, p.concurrency_per_rank, w.mean_context)
        assert p.decode_tpot_s == pytest.approx(tpot, rel=1e-9)
        assert p.decode_tokens_per_s_per_chip == pytest.approx(per_chip, rel=1e-9)


def test_space_respects_heads_budget_and_moe_rules() -> None:
    from modelchip.catalog.loader import load_catalog
    from modelchip.models.hf import load_model

    cat = load_catalog()
    sys = cat.system("hgx-h200")
    r1 = load_model("deepseek-ai/DeepSeek-R1")
    cands = enumerate_candidates(r1, cat.chip(sys.chip), sys, SearchSpace())
    assert cands and all(c.chips <= 8 for c in cands)
    assert any(c.layout.ep == 8 and c.layout.dp == 8 for c in cands)  # DP attention + EP
    assert {c.mtp for c in cands} == {0, 1}  # R1 has an MTP layer
    dense = load_model(_llama())
    assert all(
        c.layout.ep == 1 and c.layout.dp == 1 for c in enumerate_candidates(dense, cat.chip(sys.chip), sys, SMALL)
    )


def test_best_under_slo_meets_the_slo_per_the_model() -> None:
    model = _llama()
    slo = Slo(ttft_s=0.5, tpot_s=0.02)
    r = plan(PlanRequest(model, "hgx-h100", CHAT, slo, space=replace(SMALL, modes=("aggregated",))))
    assert r.best is not None
    b = r.best
    t = build_target(model, "hgx-h100", b.candidate.layout, PrecisionRequest(b.candidate.weights, kv_cache="bf16"),
                     "hgx-h100", b.candidate.engine)  # fmt: skip
    point = an.aggregated_point(t, b.concurrency_per_instance / t.attention_ranks, an.Workload(1024, 300))
    assert point.ttft_s <= 0.5 * (1 + 1e-6) and point.tpot_s <= 0.02 * (1 + 1e-6)
    assert all(slo.met(c.ttft_s, c.tpot_s) for c in r.ranked)
    values = [objective_value(c, "chip") for c in r.ranked]
    assert values == sorted(values, reverse=True)
    # refinement pushes the batch to the SLO boundary: a little more load breaks it
    assert point.tpot_s > 0.02 * 0.9 or point.ttft_s > 0.5 * 0.9


@pytest.mark.parametrize("objective", ["chip", "kw"])
def test_more_chips_never_lower_the_best_objective(objective: str) -> None:
    model = _llama()
    slo = Slo(tpot_s=0.03)
    best = []
    for chips in (1, 2, 4, 8):
        space = replace(SMALL, max_chips=chips)
        r = plan(PlanRequest(model, "hgx-h100", CHAT, slo, objective, space))
        best.append(objective_value(r.best, objective) if r.best else float("-inf"))
    assert best == sorted(best)
    assert best[-1] > float("-inf")


def test_frontier_configs_are_mutually_non_dominated() -> None:
    r = plan(PlanRequest(_llama(), "hgx-h100", CHAT, space=SMALL))
    pts = [(c.tokens_per_s_per_user, c.tokens_per_s_per_chip) for c in r.frontier]
    assert len(pts) >= 3
    for a in pts:
        assert not any(_dominates(b, a) for b in pts)


def test_impossible_slo_names_the_closest_config() -> None:
    r = plan(PlanRequest(_llama(), "hgx-h100", CHAT, Slo(ttft_s=1e-4, tpot_s=1e-4), space=SMALL))
    assert r.best is None and r.closest is not None
    msg = r.error()
    assert msg is not None and msg.startswith("no configuration meets TTFT <= 0.1 ms / TPOT <= 0.1 ms")
    assert "the closest is" in msg


def test_model_that_fits_nowhere_says_by_how_much() -> None:
    space = SearchSpace(max_chips=1, mtp=(0,), kv_formats=("bf16",))
    r = plan(PlanRequest("deepseek-ai/DeepSeek-R1", "hgx-h100", CHAT, space=space))
    assert r.feasible == 0 and r.memory_miss is not None
    assert r.memory_miss.shortfall_bytes_per_device > 500e9  # ~700 GB of weights on one 80 GB chip
    assert "fits nowhere" in (r.error() or "") and "GB per device" in (r.error() or "")


def test_one_system_too_small_is_planned_across_several() -> None:
    space = SearchSpace(mtp=(0,), kv_formats=("bf16",), modes=("aggregated",))
    r = plan(PlanRequest("deepseek-ai/DeepSeek-R1", "hgx-h100", CHAT, space=space))
    assert r.systems_used == 2 and r.best is not None and r.best.candidate.chips == 16
