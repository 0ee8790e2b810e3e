"""`simulate()` on real targets: agreement with the analytical steady state, SLO goodput, MTP, prefix
cache, disaggregation with KV transfer, determinism and the metrics' arithmetic."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from modelchip.deploy.layout import Layout
from modelchip.perf import analytic as an
from modelchip.perf.build import build_target
from modelchip.perf.target import Speculation, Target
from modelchip.serving import PoolSpec, SimulationSpec, simulate
from modelchip.serving.clock import StepClock
from modelchip.serving.metrics import latency_stats
from modelchip.workload import ClosedLoop, LengthDist, Poisson, Slo, WorkloadSpec

# Closed-loop steady state of the simulator vs perf.analytic.closed_loop (same step times, no queueing
# model): throughput and mean TPOT must agree within this tolerance.
CONSISTENCY_TOLERANCE = 0.15


@cache
def target(model: str, hardware: str, layout: Layout, draft_tokens: int = 0) -> Target:
    return build_target(model, hardware, layout, speculation=Speculation(draft_tokens, 0.7))


LLAMA70 = ("meta-llama/Meta-Llama-3.1-70B", "hgx-h100", Layout(tp=8))
DEEPSEEK = ("deepseek-ai/DeepSeek-R1", "hgx-h200", Layout(dp=8, ep=8))


def _fixed(isl: int, osl: int, arrival: ClosedLoop | Poisson, n: int, hit: float = 0.0) -> WorkloadSpec:
    return WorkloadSpec(LengthDist("fixed", isl), LengthDist("fixed", osl), arrival, n, hit)


def _steady(result_arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[float, float]:  # type: ignore[type-arg]
    """(requests/s, mean TPOT) of requests finishing in the middle half of the run (no ramp-up/down)."""
    finish, tpot, _ = result_arrays
    end = float(np.nanmax(finish))
    window = (finish >= 0.25 * end) & (finish <= 0.75 * end)
    return float(window.sum()) / (0.5 * end), float(np.nanmean(tpot[window]))


@pytest.mark.parametrize(("case", "concurrency"), [(LLAMA70, 64), (LLAMA70, 256), (DEEPSEEK, 256), (DEEPSEEK, 1024)])
def test_closed_loop_agrees_with_the_analytical_steady_state(case: tuple[str, str, Layout], concurrency: int) -> None:
    t = target(*case)
    result = simulate(SimulationSpec(PoolSpec(t), _fixed(1024, 256, ClosedLoop(concurrency), 12 * concurrency)))
    rec = result.requests
    rate, tpot = _steady((rec.finish_s, rec.tpot_s, rec.ttft_s))
    point = an.closed_loop(t, concurrency, an.Workload(1024, 256))
    assert rate == pytest.approx(point.requests_per_s_per_instance, rel=CONSISTENCY_TOLERANCE)
    assert tpot == pytest.approx(point.tpot_s, rel=CONSISTENCY_TOLERANCE)
    assert result.unfinished == 0 and result.rejected == 0


def test_throughput_rises_and_tpot_worsens_with_concurrency() -> None:
    t = target(*LLAMA70)
    low, high = (simulate(SimulationSpec(PoolSpec(t), _fixed(1024, 128, ClosedLoop(c), 400))) for c in (8, 128))
    assert high.throughput.output_tokens_per_s > 2 * low.throughput.output_tokens_per_s
    assert high.tpot.mean_s > low.tpot.mean_s


def test_goodput_counts_only_requests_within_the_slo() -> None:
    t = target(*LLAMA70)
    w = _fixed(1024, 128, Poisson(14.0), 600)
    loose = simulate(SimulationSpec(PoolSpec(t), w, slo=Slo(ttft_s=60.0, tpot_s=1.0)))
    strict = simulate(SimulationSpec(PoolSpec(t), w, slo=Slo(ttft_s=loose.ttft.p50_s)))
    assert loose.goodput_requests_per_s == pytest.approx(loose.throughput.requests_per_s)
    assert loose.slo_attainment == 1.0
    # half the requests (to within ties) have TTFT at or below the median
    assert strict.slo_attainment == pytest.approx(0.5, abs=0.05)


def test_mtp_lowers_tpot() -> None:
    w = _fixed(1024, 256, ClosedLoop(32), 200)
    plain = simulate(SimulationSpec(PoolSpec(target(*DEEPSEEK)), w))
    mtp = simulate(SimulationSpec(PoolSpec(target(*DEEPSEEK, draft_tokens=1)), w))
    assert mtp.tpot.mean_s < 0.8 * plain.tpot.mean_s


def test_prefix_cache_hits_cut_ttft() -> None:
    t = target(*LLAMA70)
    cold = simulate(SimulationSpec(PoolSpec(t), _fixed(8192, 64, Poisson(2.0), 200)))
    warm = simulate(SimulationSpec(PoolSpec(t), _fixed(8192, 64, Poisson(2.0), 200, hit=0.75)))
    assert warm.ttft.mean_s < 0.5 * cold.ttft.mean_s


def test_disaggregated_ttft_includes_the_kv_transfer() -> None:
    t = target(*LLAMA70)
    w = _fixed(4096, 64, Poisson(0.5), 40)
    spec = SimulationSpec(PoolSpec(t), w, prefill_pool=PoolSpec(t))
    result = simulate(spec)
    transfer = StepClock(t, 4096 + 32).transfer_s(4096)
    assert transfer > 0
    # at this low load a request meets an idle prefill instance: TTFT = prefill step + transfer
    prefill = an.prefill_cost_per_token(t, an.Workload(4096, 1)) * 4096 + t.engine.step_overhead_s
    assert result.ttft.p50_s == pytest.approx(prefill + transfer, rel=0.05)
    assert result.chips == 16
    assert result.completed == 40
    instances = set(result.requests.instance.tolist())
    assert instances == {0}  # the record keeps the decode instance (index 0; the prefill one is 1)


def test_more_prefill_workers_raise_disaggregated_throughput_when_prefill_bound() -> None:
    t = target(*LLAMA70)
    w = _fixed(8192, 16, Poisson(20.0), 300)
    one = simulate(SimulationSpec(PoolSpec(t), w, prefill_pool=PoolSpec(t, 1)))
    three = simulate(SimulationSpec(PoolSpec(t), w, prefill_pool=PoolSpec(t, 3)))
    assert three.throughput.requests_per_s > 1.5 * one.throughput.requests_per_s


def test_same_seed_same_result_and_other_seed_differs() -> None:
    t = target(*LLAMA70)
    w = WorkloadSpec(LengthDist("lognormal", 800, 0.6), LengthDist("lognormal", 120, 0.6), Poisson(10.0), 300)
    a, b = (simulate(SimulationSpec(PoolSpec(t), w, seed=7)) for _ in range(2))
    c = simulate(SimulationSpec(PoolSpec(t), w, seed=8))
    np.testing.assert_array_equal(a.requests.finish_s, b.requests.finish_s)
    np.testing.assert_array_equal(a.timeline.kv_used_fraction, b.timeline.kv_used_fraction)
    assert not np.array_equal(a.requests.isl, c.requests.isl)


def test_latency_stats_hand_computed() -> None:
    s = latency_stats(np.arange(1.0, 101.0))
    assert (s.mean_s, s.p50_s, s.count) == (50.5, 50.5, 100)
    # weights: value 1 counted 9 times, value 10 once -> p50 = p90 = 1, p99 = 10, mean 1.9
    w = latency_stats(np.array([10.0, 1.0]), np.array([1.0, 9.0]))
    assert (w.p50_s, w.p90_s, w.p99_s) == (1.0, 1.0, 10.0)
    assert w.mean_s == pytest.approx(1.9)
    empty = latency_stats(np.array([np.nan]))
    assert empty.count == 0 and np.isnan(empty.mean_s)


def test_throughput_per_chip_divides_by_all_chips() -> None:
    t = target(*LLAMA70)
    r = simulate(SimulationSpec(PoolSpec(t, 2), _fixed(512, 64, ClosedLoop(16), 100)))
    assert r.chips == 16
    assert r.throughput.output_tokens_per_s_per_chip == pytest.approx(r.throughput.output_tokens_per_s / 16)
    assert r.throughput.output_tokens_per_s == pytest.approx(100 * 64 / r.duration_s)


def test_offered_load_is_the_rate_over_what_an_overloaded_run_serves() -> None:
    """Past capacity the simulator serves the analytical capacity (the same step times at the largest
    batch that fits), so rate / served rate is the offered load; closed loops have none."""
    from modelchip.serving import offered_load

    t = target(*LLAMA70)
    spec = SimulationSpec(PoolSpec(t), _fixed(1024, 300, Poisson(60.0), 2000))
    load = offered_load(spec)
    assert load is not None and load > 1.0
    served = simulate(spec).throughput.requests_per_s
    assert 60.0 / load == pytest.approx(served, rel=0.1)
    half = SimulationSpec(PoolSpec(t, instances=2), _fixed(1024, 300, Poisson(60.0), 10))
    assert offered_load(half) == pytest.approx(load / 2)  # two instances, twice the capacity
    assert offered_load(SimulationSpec(PoolSpec(t), _fixed(1024, 300, ClosedLoop(64), 10))) is None
