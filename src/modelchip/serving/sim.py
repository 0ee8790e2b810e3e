"""The event loop: a heap of (time, priority, sequence) events over instances, a router and, for
disaggregated serving, KV transfers from prefill to decode instances. Deterministic: the only
randomness is in the request set, drawn beforehand from the seeded generator.

Events at the same time run in a fixed order: step ends first (they free slots and blocks), then KV
transfers, then arrivals, then step starts, so a request arriving exactly as a step ends joins the
next step, as in a real engine's scheduler loop.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from modelchip.perf import analytic as an
from modelchip.workload.arrivals import ClosedLoop
from modelchip.workload.spec import RequestSet

from .clock import StepClock
from .engine import DONE, REJECTED, Instance, Request
from .router import ROUTERS
from .spec import SimulationSpec

END, TRANSFER, ARRIVE, START = 0, 1, 2, 3

Progress = Callable[[int, int], None]


@dataclass
class StepLog:
    """One row per engine step (columns as lists; turned into arrays by the metrics)."""

    time_s: list[float] = field(default_factory=list)
    instance: list[int] = field(default_factory=list)
    duration_s: list[float] = field(default_factory=list)
    decoding: list[int] = field(default_factory=list)
    prefill_tokens: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    kv_used: list[float] = field(default_factory=list)


class Simulation:
    def __init__(
        self,
        spec: SimulationSpec,
        requests: RequestSet,
        progress: Progress | None = None,
        clocks: tuple[StepClock, StepClock | None] | None = None,
    ) -> None:
        """`clocks` (decode or aggregated pool, prefill pool) replace the performance model's clocks
        (tests use hand-set step times)."""
        self.spec = spec
        reference = float(requests.isl.mean() + requests.osl.mean() / 2.0)
        spread = an.sampled_context_spread(requests.isl, requests.osl)
        main = clocks[0] if clocks else StepClock(spec.pool.target, reference, spread)
        self.instances = [Instance(main, spec.pool.engine) for _ in range(spec.pool.instances)]
        self.decode_ids = list(range(spec.pool.instances))
        self.prefill_ids: list[int] = []
        if spec.prefill_pool is not None:
            pool = spec.prefill_pool
            pre = clocks[1] if clocks and clocks[1] else StepClock(pool.target, reference)
            start = len(self.instances)
            self.instances += [Instance(pre, pool.engine, True) for _ in range(pool.instances)]
            self.prefill_ids = list(range(start, len(self.instances)))
        self.nic_free_s = [0.0] * len(self.instances)
        hit = spec.workload.prefix_hit
        self.requests = [
            Request(i, 0.0, int(isl), int(osl), int(isl * hit))
            for i, (isl, osl) in enumerate(zip(requests.isl.tolist(), requests.osl.tolist(), strict=True))
        ]
        self.arrivals = requests.arrival_s
        arrival = spec.workload.arrival
        self.concurrency = arrival.concurrency if isinstance(arrival, ClosedLoop) else 0
        self.route = ROUTERS[spec.router]
        self.route_counter = [0, 0]
        self.events: list[tuple[float, int, int, int]] = []
        self.sequence = 0
        self.next_request = 0
        self.ended = 0
        self.progress = progress
        self.progress_every = max(1, len(self.requests) // 100)
        self.log = StepLog()

    def _push(self, time_s: float, kind: int, target: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (time_s, kind, self.sequence, target))

    def run(self) -> None:
        n = len(self.requests)
        if self.arrivals is None:
            for _ in range(min(self.concurrency, n)):
                self._push(0.0, ARRIVE, self.next_request)
                self.next_request += 1
        elif n:
            self._push(float(self.arrivals[0]), ARRIVE, 0)
        handlers = {END: self._end, TRANSFER: self._transfer, ARRIVE: self._arrive, START: self._start}
        events = self.events
        while events:
            time_s, kind, _, target = heapq.heappop(events)
            handlers[kind](time_s, target)

    # --- handlers ---------------------------------------------------------------------------------
    def _pick(self, ids: list[int], pool: int) -> int:
        choice = self.route([self.instances[i] for i in ids], self.route_counter[pool])
        self.route_counter[pool] += 1
        return ids[choice]

    def _arrive(self, now: float, rid: int) -> None:
        r = self.requests[rid]
        r.arrival_s = now
        if self.arrivals is not None and rid + 1 < len(self.requests):
            self._push(float(self.arrivals[rid + 1]), ARRIVE, rid + 1)
        first_pool = self.prefill_ids or self.decode_ids
        idx = self._pick(first_pool, 1 if self.prefill_ids else 0)
        fits = self.instances[idx].can_ever_fit(r)
        if self.prefill_ids:
            fits = fits and self.instances[self.decode_ids[0]].can_ever_fit(r)
        if not fits:
            self._ended(now, r, REJECTED)
            return
        r.instance = idx
        self.instances[idx].enqueue(r)
        self._wake(now, idx)

    def _wake(self, now: float, idx: int) -> None:
        inst = self.instances[idx]
        if not inst.busy and not inst.start_pending:
            inst.start_pending = True
            self._push(now, START, idx)

    def _start(self, now: float, idx: int) -> None:
        inst = self.instances[idx]
        inst.start_pending = False
        if inst.busy:
            return
        plan = inst.start_step()
        if plan is None:
            return
        inst.busy = True
        log = self.log
        step_s = plan.duration_s / plan.steps
        for k in range(plan.steps):  # a multi-step decode run logs each of its steps
            log.time_s.append(now + k * step_s)
            log.instance.append(idx)
            log.duration_s.append(step_s)
            log.decoding.append(plan.decoding)
            log.prefill_tokens.append(plan.prefill_tokens if k == 0 else 0)
            log.running.append(plan.running)
            log.queued.append(plan.queued)
            log.kv_used.append(plan.kv_used_tokens / inst.capacity)
        self._push(now + plan.duration_s, END, idx)

    def _end(self, now: float, idx: int) -> None:
        inst = self.instances[idx]
        inst.busy = False
        finished, handed = inst.finish_step(now)
        for r in finished:
            self._ended(now, r, DONE)
        for r in handed:
            start = max(now, self.nic_free_s[idx])
            self.nic_free_s[idx] = start + inst.clock.transfer_s(r.isl)
            self._push(self.nic_free_s[idx], TRANSFER, r.rid)
        self._wake(now, idx)

    def _transfer(self, now: float, rid: int) -> None:
        r = self.requests[rid]
        self.instances[r.instance].release_transfer(r)
        self._wake(now, r.instance)
        idx = self._pick(self.decode_ids, 0)
        r.instance = idx
        r.first_s = now  # the first token reaches the user with the decode instance's stream
        self.instances[idx].ready.append(r)
        self._wake(now, idx)

    def _ended(self, now: float, r: Request, status: int) -> None:
        r.status = status
        r.finish_s = now
        self.ended += 1
        if self.progress is not None and (self.ended % self.progress_every == 0 or self.ended == len(self.requests)):
            self.progress(self.ended, len(self.requests))
        if self.arrivals is None and self.next_request < len(self.requests):
            self._push(now, ARRIVE, self.next_request)
            self.next_request += 1
