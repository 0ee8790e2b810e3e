"""Invariants of the serving simulator (hypothesis): Little's law, more capacity is never slower at the
same load, every request ends exactly once, KV blocks are never over-allocated, one seed one result."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelchip.deploy.layout import Layout
from modelchip.perf.build import build_target
from modelchip.perf.target import Target
from modelchip.serving import EngineConfig, PoolSpec, SimulationSpec, simulate
from modelchip.serving.engine import DONE
from modelchip.serving.results import SimulationResult
from modelchip.serving.sim import Simulation
from modelchip.workload import ClosedLoop, LengthDist, Poisson, WorkloadSpec, generate

SETTINGS = settings(max_examples=15, deadline=None)
LITTLE_TOLERANCE = 0.15


@cache
def llama8b() -> Target:
    return build_target("meta-llama/Meta-Llama-3.1-8B", "h100-sxm", Layout())


def workload(isl: float, osl: float, sigma: float, rate: float, n: int) -> WorkloadSpec:
    return WorkloadSpec(LengthDist("lognormal", isl, sigma), LengthDist("lognormal", osl, sigma), Poisson(rate), n)


loads = st.tuples(
    st.sampled_from([256.0, 1024.0, 3000.0]),  # mean ISL
    st.sampled_from([32.0, 128.0, 400.0]),  # mean OSL
    st.sampled_from([0.0, 0.5, 1.0]),  # lognormal sigma
    st.floats(0.5, 30.0),  # requests/s
    st.integers(0, 2**31 - 1),  # seed
)


def in_system_time_average(r: SimulationResult) -> float:
    """L: requests in the system (arrived, not ended), averaged over [first arrival, last end], from
    the event times alone."""
    rec = r.requests
    times = np.concatenate([rec.arrival_s, rec.finish_s])
    steps = np.concatenate([np.ones_like(rec.arrival_s), -np.ones_like(rec.finish_s)])
    order = np.lexsort((steps, times))  # at equal times, ends before arrivals
    t, n = times[order], np.cumsum(steps[order])
    return float(np.sum(n[:-1] * np.diff(t)) / (t[-1] - t[0]))


@SETTINGS
@given(loads)
def test_littles_law(load: tuple[float, float, float, float, int]) -> None:
    """L = lambda W, with L measured two ways: from request arrival/end times, and from the engine's own
    queue and batch counts at each step (a check that the timeline accounts for every request)."""
    isl, osl, sigma, rate, seed = load
    r = simulate(SimulationSpec(PoolSpec(llama8b()), workload(isl, osl, sigma, rate, 300), seed=seed))
    lam = r.completed / r.duration_s
    w = float(np.mean(r.requests.e2e_s))
    assert in_system_time_average(r) == pytest.approx(lam * w, rel=1e-6)
    tl = r.timeline
    engine_l = float(np.sum((tl.running + tl.queued) * tl.duration_s)) / r.duration_s
    assert engine_l == pytest.approx(lam * w, rel=LITTLE_TOLERANCE, abs=0.05)


@SETTINGS
@given(loads, st.integers(2, 3))
def test_more_instances_never_raise_latency(load: tuple[float, float, float, float, int], k: int) -> None:
    isl, osl, sigma, rate, seed = load
    w = workload(isl, osl, sigma, rate, 200)
    one = simulate(SimulationSpec(PoolSpec(llama8b(), 1), w, seed=seed))
    more = simulate(SimulationSpec(PoolSpec(llama8b(), k), w, seed=seed))
    assert more.e2e.mean_s <= one.e2e.mean_s * 1.02
    assert more.ttft.mean_s <= one.ttft.mean_s * 1.02


@SETTINGS
@given(loads, st.sampled_from([200_000, 60_000, 20_000]), st.sampled_from([8, 64, 1024]))
def test_every_request_ends_once_and_kv_never_overflows(
    load: tuple[float, float, float, float, int], capacity: int, max_batch: int
) -> None:
    """A cache of `capacity` tokens (forcing preemption) and a running-batch cap."""
    isl, osl, sigma, rate, seed = load
    spec = SimulationSpec(
        PoolSpec(llama8b(), 1, EngineConfig(max_running_per_rank=max_batch)), workload(isl, osl, sigma, rate, 150)
    )
    sim = Simulation(spec, generate(spec.workload, np.random.default_rng(seed)))
    sim.instances[0].capacity = capacity
    ended: list[int] = []
    sim.progress, sim.progress_every = (lambda done, total: ended.append(done)), 1
    sim.run()
    assert sim.ended == len(sim.requests) and ended == list(range(1, len(sim.requests) + 1))
    assert all(r.status != 0 for r in sim.requests)
    done = [r for r in sim.requests if r.status == DONE]
    assert all(r.arrival_s <= r.first_s <= r.finish_s for r in done)
    assert max(sim.log.kv_used) <= 1.0 + 1e-9
    assert max(sim.log.running) <= max_batch
    inst = sim.instances[0]
    assert not inst.running and not inst.prefilling and inst.used_tokens() == 0


@settings(max_examples=5, deadline=None)
@given(loads, st.sampled_from(["least-load", "round-robin"]))
def test_deterministic_for_a_seed(load: tuple[float, float, float, float, int], router: str) -> None:
    isl, osl, sigma, rate, seed = load
    spec = SimulationSpec(PoolSpec(llama8b(), 2), workload(isl, osl, sigma, rate, 150), router=router, seed=seed)
    a, b = simulate(spec), simulate(spec)
    np.testing.assert_array_equal(a.requests.finish_s, b.requests.finish_s)
    np.testing.assert_array_equal(a.requests.instance, b.requests.instance)
    np.testing.assert_array_equal(a.timeline.time_s, b.timeline.time_s)


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 64), st.integers(0, 1000))
def test_closed_loop_never_exceeds_its_concurrency(concurrency: int, seed: int) -> None:
    w = WorkloadSpec(LengthDist("lognormal", 500, 0.5), LengthDist("lognormal", 64, 0.5), ClosedLoop(concurrency), 120)
    r = simulate(SimulationSpec(PoolSpec(llama8b()), w, seed=seed))
    assert r.completed == 120
    assert int((r.timeline.running + r.timeline.queued).max()) <= concurrency
