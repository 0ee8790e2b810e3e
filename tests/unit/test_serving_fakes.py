"""Helpers for the serving tests (no tests here): a clock with hand-set step times."""

from __future__ import annotations

from functools import cache

import numpy as np

from modelchip.deploy.layout import Layout
from modelchip.perf.build import build_target
from modelchip.perf.target import Target
from modelchip.serving.clock import StepClock
from modelchip.serving.sim import Simulation
from modelchip.serving.spec import EngineConfig, PoolSpec, SimulationSpec
from modelchip.workload.arrivals import Arrival
from modelchip.workload.spec import RequestSet, WorkloadSpec


class FakeClock(StepClock):
    def __init__(
        self,
        decode_s: float = 0.01,
        prefill_token_s: float = 0.001,
        capacity_tokens: float = 1e9,
        transfer_s: float = 0.0,
        ranks: int = 1,
        reserve_full_length: bool = False,
    ) -> None:
        self.ranks = ranks
        self.reserve_full_length = reserve_full_length
        self.pp = 1
        self.tokens_per_step = 1.0
        self.tokens_in_flight = 1
        self.overhead_s = 0.0
        self.kv_capacity_tokens = capacity_tokens
        self.kv_bytes_per_token = 1.0
        self._d, self._p, self._x = decode_s, prefill_token_s, transfer_s

    def decode_s(self, running: int, mean_context: float) -> float:
        return self._d

    def prefill_token_s(self, prompt_tokens: int, cached_tokens: int) -> float:
        return self._p

    def transfer_s(self, tokens: int) -> float:
        return self._x


@cache
def small_target() -> Target:
    return build_target("meta-llama/Meta-Llama-3.1-8B", "h100-sxm", Layout())


def run_fake(
    isl: list[int],
    osl: list[int],
    arrival: Arrival,
    arrival_s: list[float] | None = None,
    clock: FakeClock | None = None,
    engine: EngineConfig | None = None,
    instances: int = 1,
    router: str = "least-load",
    prefill_clock: FakeClock | None = None,
) -> Simulation:
    """Run the event loop on explicit requests with a fake clock; returns the finished simulation."""
    pool = PoolSpec(small_target(), instances, engine or EngineConfig())
    prefill_pool = PoolSpec(small_target()) if prefill_clock else None
    spec = SimulationSpec(pool, WorkloadSpec(arrival=arrival, requests=len(isl)), prefill_pool, router=router)
    requests = RequestSet(
        np.asarray(isl, dtype=np.int64),
        np.asarray(osl, dtype=np.int64),
        None if arrival_s is None else np.asarray(arrival_s, dtype=np.float64),
    )
    sim = Simulation(spec, requests, clocks=(clock or FakeClock(), prefill_clock))
    sim.run()
    return sim
