"""The simulator's verdict decides the reported best: rejected configs are never "best"."""

from __future__ import annotations

from modelchip.search.config import OBJECTIVES, Slo
from modelchip.search.confirm import confirm, confirm_best
from modelchip.search.plan import PlanRequest, WorkloadSpec, plan
from modelchip.search.space import SearchSpace


def test_confirmed_best_meets_the_slo_in_the_simulator() -> None:
    # DeepSeek-R1 on GB200 NVL72: the analytical model ranks a disaggregated config first that the
    # simulator rejects (its prefill pool falls behind); the confirmed best must pass.
    req = PlanRequest(
        "deepseek-ai/DeepSeek-R1",
        "gb200-nvl72",
        WorkloadSpec("chat", 1024, 300),
        Slo(ttft_s=2.0, tpot_s=0.05),
        space=SearchSpace(max_chips=72),
    )
    result = plan(req)
    revised, sims = confirm_best(result, 1)
    assert revised.best is not None
    verdict = {id(s.config): s.meets_slo for s in sims}
    assert verdict[id(revised.best)]
    rejected = {i for i, ok in verdict.items() if not ok}
    assert all(c is None or id(c) not in rejected for c in revised.best_by_objective.values())
    assert set(revised.best_by_objective) == set(OBJECTIVES)
    if not sims[0].meets_slo:
        assert revised.best is not result.best
        assert confirm(req, revised.best, revised.budget_chips).meets_slo


def test_no_simulation_leaves_the_plan_unchanged() -> None:
    req = PlanRequest("meta-llama/Meta-Llama-3.1-8B", "hgx-h100", WorkloadSpec("chat", 1024, 300))
    result = plan(req)
    assert confirm_best(result, 0) == (result, [])
