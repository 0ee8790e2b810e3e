"""Hand-computed event traces of the engine with a constant-time clock (decode step 10 ms, prefill
1 ms per prompt token), KV limits and preemption, rejection and routing."""

from __future__ import annotations

import math

import pytest
from test_serving_fakes import FakeClock, run_fake

from modelchip.serving.engine import DONE, REJECTED
from modelchip.serving.metrics import summarise
from modelchip.serving.spec import EngineConfig
from modelchip.workload.arrivals import ClosedLoop, Poisson
from modelchip.workload.slo import Slo


def test_one_request_prefill_then_decode() -> None:
    # prefill step: 100 tokens x 1 ms = 0.1 s (first token); then 4 decode steps of 10 ms.
    sim = run_fake([100], [5], ClosedLoop(1))
    r = sim.requests[0]
    assert r.first_s == pytest.approx(0.1)
    assert r.finish_s == pytest.approx(0.14)
    assert r.status == DONE


def test_chunked_prefill_mixes_with_decode() -> None:
    """Budget 150 tokens per step. Step 1 (0-0.15): r0 100 + r1 50 prompt tokens. Step 2 (0.15-0.21):
    r0 decodes (10 ms) + r1's last 50 tokens (50 ms). Step 3 ends 0.22 (r0's 3rd token), step 4 0.23."""
    sim = run_fake([100, 100], [3, 3], ClosedLoop(2), engine=EngineConfig(max_batched_tokens_per_rank=150))
    r0, r1 = sim.requests
    assert (r0.first_s, r0.finish_s) == pytest.approx((0.15, 0.22))
    assert (r1.first_s, r1.finish_s) == pytest.approx((0.21, 0.23))


def test_decode_only_steps_and_arrival_mid_step() -> None:
    """r1 arrives at 0.105, during r0's first decode step (0.1-0.11): it is prefilled from 0.11 while r0
    decodes (0.01 + 0.02 = 0.03 s), so its first token comes at 0.14."""
    sim = run_fake([100, 20], [10, 2], Poisson(1.0), arrival_s=[0.0, 0.105])
    r1 = sim.requests[1]
    assert r1.first_s == pytest.approx(0.14)
    assert r1.finish_s == pytest.approx(0.15)


def test_closed_loop_keeps_concurrency_and_chains_requests() -> None:
    sim = run_fake([10] * 6, [2] * 6, ClosedLoop(2))
    arrivals = sorted(r.arrival_s for r in sim.requests)
    # two at 0, the rest each when an earlier one ends
    assert arrivals[:2] == [0.0, 0.0]
    finishes = sorted(r.finish_s for r in sim.requests)
    assert all(any(math.isclose(a, f) for f in finishes) for a in arrivals[2:])
    assert all(r.status == DONE for r in sim.requests)


def test_max_running_caps_the_batch() -> None:
    sim = run_fake([10] * 5, [50] * 5, ClosedLoop(5), engine=EngineConfig(max_running_per_rank=2))
    assert max(sim.log.running) == 2
    assert all(r.status == DONE for r in sim.requests)


def test_kv_pressure_preempts_and_recomputes() -> None:
    # 160 tokens of KV; each request grows to 20 + 60 = 80 tokens: four cannot all stay resident.
    clock = FakeClock(capacity_tokens=160)
    sim = run_fake([20] * 4, [60] * 4, ClosedLoop(4), clock=clock)
    assert all(r.status == DONE for r in sim.requests)
    assert sum(r.preemptions for r in sim.requests) >= 1
    assert max(sim.log.kv_used) <= 160
    assert all(r.finish_s >= r.first_s >= r.arrival_s for r in sim.requests)


def test_preemption_makes_latency_worse_than_ample_kv() -> None:
    tight = run_fake([20] * 4, [60] * 4, ClosedLoop(4), clock=FakeClock(capacity_tokens=160))
    ample = run_fake([20] * 4, [60] * 4, ClosedLoop(4))
    assert max(r.finish_s for r in tight.requests) > max(r.finish_s for r in ample.requests)


def test_request_that_can_never_fit_is_rejected_once() -> None:
    sim = run_fake([500, 20], [10, 10], ClosedLoop(2), clock=FakeClock(capacity_tokens=256))
    assert [r.status for r in sim.requests] == [REJECTED, DONE]
    assert sim.ended == 2
    result = summarise(sim.requests, sim.log, Slo(), chips=1)
    assert (result.rejected, result.completed) == (1, 1)


def test_round_robin_alternates_whatever_the_load() -> None:
    sim = run_fake([10] * 4, [1000, 5, 5, 5], Poisson(1.0), [0.0, 0.01, 0.2, 0.4], instances=2, router="round-robin")
    assert [r.instance for r in sim.requests] == [0, 1, 0, 1]


def test_least_load_avoids_the_busy_instance() -> None:
    # instance 0 holds a long request; the three short ones that follow all go to instance 1
    sim = run_fake([10] * 4, [1000, 5, 5, 5], Poisson(1.0), [0.0, 0.01, 0.2, 0.4], instances=2)
    assert [r.instance for r in sim.requests] == [0, 1, 1, 1]


def test_attention_ranks_share_prefill_work() -> None:
    """Two ranks prefill 200 tokens in parallel: 0.1 s instead of 0.2 s."""
    one = run_fake([100, 100], [2, 2], ClosedLoop(2))
    two = run_fake([100, 100], [2, 2], ClosedLoop(2), clock=FakeClock(ranks=2))
    assert one.requests[0].first_s == pytest.approx(0.2)
    assert two.requests[0].first_s == pytest.approx(0.1)


def test_disaggregated_hand_off_waits_for_the_kv_transfer() -> None:
    """Prefill instance: both prompts in one step (200 tokens x 1 ms = 0.2 s); KV transfers of 0.5 s
    each, one after the other on the prefill instance's NIC (0.2-0.7, 0.7-1.2); the decode instance
    then needs two 10 ms steps for tokens 2 and 3."""
    sim = run_fake([100, 100], [3, 3], ClosedLoop(2), prefill_clock=FakeClock(transfer_s=0.5))
    r0, r1 = sim.requests
    assert (r0.first_s, r0.finish_s) == pytest.approx((0.7, 0.72))
    assert (r1.first_s, r1.finish_s) == pytest.approx((1.2, 1.22))
    assert r0.instance == r1.instance == 0
