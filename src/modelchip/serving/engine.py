"""One engine instance: continuous batching with chunked prefill over a paged KV cache.

Each event is one engine step for the whole running batch (not one token): decoding sequences all
advance by the expected tokens per step (1 + accepted MTP drafts), so a sequence's progress is the
instance's cumulative token counter `g` minus its value when the sequence started decoding, and
completions come off a heap keyed by the counter value at which they finish. KV use is kept as sums
(no per-sequence loop per step): tokens held = sum(context at decode start - g at start) + n x g +
tokens held by prompts mid-prefill. Block rounding is bounded by one partly filled block per sequence.

Scheduling follows vLLM's V1 scheduler: running sequences first (decode tokens count against the
step's token budget), then partial prefills, then new prompts in arrival order while the token
budget, the running-batch cap and free KV blocks allow. When the KV cache cannot hold the next
step's tokens the newest sequence is preempted and later recomputed (vLLM's default RECOMPUTE).
Engines that reserve a request's whole length up front (TensorRT-LLM's GUARANTEED_NO_EVICT, the
target engine's `kv_reservation`) admit a prompt only while the reservations of the admitted requests
plus its own prompt + output fit in the cache, so they never preempt.

Without chunked prefill (vLLM V0's default scheduler) waiting prompts run first, whole, in a step of
their own that pauses every decode; with multi-step scheduling (V0 `num_scheduler_steps` N) a decode
batch runs N steps between scheduler passes, so a new prompt waits for the run to end, and sequences
that finish inside a run hold their slot to its end (vllm-project/vllm #7000). An engine with
`min_queued_prompts` N (AMD's MLPerf Server scheduler) starts waiting prompts, while sequences decode,
only once N of them are queued; an idle engine starts them as they come.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from .clock import StepClock
from .spec import EngineConfig

WAITING, DONE, REJECTED = 0, 1, 2


class Request:
    """Mutable per-request state inside one simulation (never shared across runs)."""

    __slots__ = (
        "arrival_s",
        "cached",
        "cost_tok",
        "ctx0",
        "done",
        "epoch",
        "finish_s",
        "first_s",
        "g_start",
        "generated",
        "instance",
        "isl",
        "osl",
        "preemptions",
        "queued_step",
        "reserved",
        "rid",
        "status",
        "todo",
    )

    def __init__(self, rid: int, arrival_s: float, isl: int, osl: int, cached: int) -> None:
        self.rid, self.arrival_s, self.isl, self.osl, self.cached = rid, arrival_s, isl, osl, cached
        self.todo = isl - cached
        self.done = 0
        self.generated = 0
        self.cost_tok = 0.0
        self.ctx0 = 0
        self.g_start = 0.0
        self.epoch = 0
        self.preemptions = 0
        self.queued_step = 0
        self.reserved = 0
        self.instance = -1
        self.status = WAITING
        self.first_s = float("nan")
        self.finish_s = float("nan")


@dataclass(frozen=True)
class StepPlan:
    duration_s: float
    """the whole event: one step, or a multi-step decode run of `steps` steps of `duration_s / steps`"""
    steps: int
    decoding: int
    prefill_tokens: int
    running: int
    queued: int
    kv_used_tokens: float


class Instance:
    """State of one engine. `prefill_only` instances hand prompts off instead of decoding them."""

    def __init__(self, clock: StepClock, engine: EngineConfig, prefill_only: bool = False) -> None:
        self.clock = clock
        self.prefill_only = prefill_only
        ranks = clock.ranks
        self.max_running = engine.max_running_per_rank * ranks
        self.max_tokens = engine.max_batched_tokens_per_rank * ranks
        self.max_chunk = engine.max_batched_tokens_per_rank
        self.block = engine.block_tokens
        self.chunked = engine.chunked_prefill
        self.run_steps = engine.scheduler_steps
        self.min_queued = engine.min_queued_prompts
        self.decode_steps = 0  # decode steps of the event in flight (0: a prefill-only step)
        self.capacity = (int(clock.kv_capacity_tokens) // self.block) * self.block
        self.reserve_full = not prefill_only and clock.reserve_full_length
        self.reserved = 0  # tokens reserved by admitted requests (full-length reservation only)
        self.waiting: deque[Request] = deque()
        self.ready: deque[Request] = deque()
        self.prefilling: list[Request] = []
        self.running: dict[int, Request] = {}
        self.heap: list[tuple[float, int, int]] = []
        self.g = 0.0
        self.sum_base = 0.0
        self.prefill_held = 0
        self.transfer_held = 0
        self.chunks: list[tuple[Request, int]] = []
        self.busy = False
        self.start_pending = False
        self.steps = 0

    # --- accounting -------------------------------------------------------------------------
    def load(self) -> int:
        return len(self.waiting) + len(self.ready) + len(self.prefilling) + len(self.running)

    def used_tokens(self) -> float:
        return self.sum_base + len(self.running) * self.g + self.prefill_held + self.transfer_held

    def used_bound(self) -> float:
        """Tokens' worth of KV blocks allocated, counting one partly filled block per sequence."""
        sequences = len(self.running) + len(self.prefilling)
        return self.used_tokens() + sequences * (self.block - 1)

    def free_tokens(self) -> float:
        return self.capacity - self.used_bound()

    def can_ever_fit(self, r: Request) -> bool:
        """A request whose whole context cannot fit in an empty cache would be preempted forever."""
        need = r.isl + (0 if self.prefill_only else r.osl + self.clock.tokens_in_flight)
        return need + self.block - 1 <= self.capacity

    def _reserve(self, r: Request) -> bool:
        """Full-length reservation: hold blocks for the request's prompt + whole output before it starts;
        False (nothing held) when they are not free. Always True for engines that allocate as they go."""
        if not self.reserve_full or r.reserved:
            return True
        need = r.isl + r.osl + self.clock.tokens_in_flight + self.block - 1
        if self.reserved + need > self.capacity:
            return False
        r.reserved = need
        self.reserved += need
        return True

    def _release(self, r: Request) -> None:
        self.reserved -= r.reserved
        r.reserved = 0

    def enqueue(self, r: Request) -> None:
        """A new prompt joins this instance's queue."""
        r.queued_step = self.steps
        self.waiting.append(r)

    def _holding_prompts(self) -> bool:
        """While sequences decode, new prompts wait for a group: `min_queued_prompts` of them (AMD's MLPerf
        Server scheduler), or, under attention-DP context sync (TensorRT-LLM ADP balance), one for every
        rank or until the oldest has waited `context_sync_steps`."""
        if self.running and 0 < len(self.waiting) < self.min_queued:
            return True
        sync, ranks = self.clock.context_sync_steps, self.clock.ranks
        if not sync or ranks <= 1 or not self.running or not self.waiting:
            return False
        return len(self.waiting) < ranks and self.steps - self.waiting[0].queued_step < sync

    # --- state changes ------------------------------------------------------------------------
    def _start_decoding(self, r: Request) -> None:
        r.ctx0 = r.isl + r.generated
        r.g_start = self.g
        self.running[r.rid] = r
        self.sum_base += r.ctx0 - self.g
        heapq.heappush(self.heap, (self.g + (r.osl - r.generated), r.rid, r.epoch))

    def _stop_decoding(self, r: Request) -> None:
        del self.running[r.rid]
        self.sum_base -= r.ctx0 - r.g_start
        r.epoch += 1

    def _preempt_one(self) -> bool:
        """Free the newest sequence's blocks (prompts mid-prefill first); it is recomputed later."""
        if self.prefilling:
            r = self.prefilling.pop()
            self.prefill_held -= r.cached + r.done
        elif self.running:
            r = next(reversed(self.running.values()))
            r.generated += int(self.g - r.g_start + 1e-9)
            self._stop_decoding(r)
        else:
            return False
        self._release(r)
        r.todo = r.isl - r.cached + r.generated
        r.done = 0
        r.preemptions += 1
        self.waiting.appendleft(r)
        return True

    def release_transfer(self, r: Request) -> None:
        """The KV of a prompt handed off to a decode instance has arrived there: free its blocks."""
        self.transfer_held -= r.isl + self.block - 1

    def _admit_ready(self) -> None:
        """Decode instances: sequences whose KV arrived join the batch while blocks and slots allow."""
        while self.ready and len(self.running) + len(self.prefilling) < self.max_running:
            r = self.ready[0]
            if self.free_tokens() < r.isl + r.generated + self.block - 1 or not self._reserve(r):
                break
            self.ready.popleft()
            self._start_decoding(r)

    def _plan_prefill(self, budget: int) -> None:
        """Chunks for this step: partial prefills first, then new prompts in arrival order."""
        self.chunks = []
        for r in self.prefilling:
            chunk = int(min(r.todo - r.done, budget, self.max_chunk, self.free_tokens()))
            if chunk <= 0:
                break
            self.chunks.append((r, chunk))
            budget -= chunk
            self.prefill_held += chunk  # blocks are allocated for the chunk when it is scheduled
            r.done += chunk
        if self._holding_prompts():
            return
        while self.waiting and budget > 0 and len(self.running) + len(self.prefilling) < self.max_running:
            r = self.waiting[0]
            chunk = int(min(r.todo, budget, self.max_chunk, self.free_tokens() - r.cached - (self.block - 1)))
            if chunk <= 0 or not self._reserve(r):
                break
            self.waiting.popleft()
            r.cost_tok = self.clock.prefill_token_s(r.isl + r.generated, r.cached)
            self.prefilling.append(r)
            self.chunks.append((r, chunk))
            budget -= chunk
            self.prefill_held += r.cached + chunk
            r.done = chunk

    def _plan_whole_prompts(self) -> None:
        """Without chunked prefill: waiting prompts, whole, in arrival order while the token budget, the
        running-batch cap and free KV blocks allow (the first one always fits the budget)."""
        self.chunks = []
        budget = self.max_tokens
        if self._holding_prompts():
            return
        while self.waiting and len(self.running) + len(self.prefilling) < self.max_running:
            r = self.waiting[0]
            over_budget = r.todo > budget and bool(self.chunks)
            if over_budget or r.todo > self.free_tokens() - r.cached - (self.block - 1) or not self._reserve(r):
                break
            self.waiting.popleft()
            r.cost_tok = self.clock.prefill_token_s(r.isl + r.generated, r.cached)
            self.prefilling.append(r)
            self.chunks.append((r, r.todo))
            budget -= r.todo
            self.prefill_held += r.cached + r.todo
            r.done = r.todo

    def start_step(self) -> StepPlan | None:
        """Schedule the next step (or multi-step decode run); None when there is nothing to run."""
        self._admit_ready()
        growth = self.clock.tokens_in_flight
        while self.running and self.free_tokens() < len(self.running) * growth * self.run_steps:
            self._preempt_one()
        if not self.chunked:
            self._plan_whole_prompts()  # no prompt is ever mid-prefill between steps
        else:
            self._plan_prefill(self.max_tokens - len(self.running) * growth)
            while not self.chunks and not self.running and self.prefilling:
                self._preempt_one()  # prompts mid-prefill hold every free block: restart the newest
                self._plan_prefill(self.max_tokens)
        if not self.chunks and not self.running:
            return None
        if self.chunks:
            self.decode_steps = 1 if self.chunked else 0
        else:
            self.decode_steps = self.run_steps
        # Prefill work is spread over the attention ranks, which run in parallel (the analytical model's
        # assumption too; with attention DP one prompt's attention runs on one rank, but its expert
        # GEMMs, most of the work for MoE models, are spread over the EP group).
        prefill_s = 0.0
        prefill_tokens = 0
        for r, chunk in self.chunks:
            prefill_s += chunk * r.cost_tok
            prefill_tokens += chunk
        prefill_s /= self.clock.ranks
        n = len(self.running) if self.decode_steps else 0
        steps = max(self.decode_steps, 1)
        context = (self.sum_base + n * self.g) / n if n else 0.0
        context += (steps - 1) / 2 * self.clock.tokens_per_step  # a run's mean context
        duration = steps * self.clock.step_s(n, context, prefill_s)
        queued = len(self.waiting) + len(self.ready)
        running = len(self.running) + len(self.prefilling)
        return StepPlan(duration, steps, n, prefill_tokens, running, queued, self.used_bound())

    def finish_step(self, now: float) -> tuple[list[Request], list[Request]]:
        """Apply the step that ends at `now`: (requests finished, prompts handed off to decode)."""
        self.g += self.clock.tokens_per_step * self.decode_steps
        self.steps += max(self.decode_steps, 1)
        finished: list[Request] = []
        heap = self.heap
        while heap and heap[0][0] <= self.g + 1e-9:
            _, rid, epoch = heapq.heappop(heap)
            r = self.running.get(rid)
            if r is None or r.epoch != epoch:
                continue  # preempted since this entry was pushed
            self._stop_decoding(r)
            self._release(r)
            r.generated = r.osl
            r.finish_s = now
            finished.append(r)
        handed: list[Request] = []
        for r, _ in self.chunks:
            if r.done < r.todo:
                continue
            self.prefilling.remove(r)
            self.prefill_held -= r.cached + r.done
            r.generated += 1  # the prefill step emits the next token
            if self.prefill_only and r.generated < r.osl:
                self.transfer_held += r.isl + self.block - 1
                handed.append(r)
                continue
            if r.first_s != r.first_s:  # NaN: first token of this request
                r.first_s = now
            if r.generated >= r.osl:
                self._release(r)
                r.finish_s = now
                finished.append(r)
            else:
                self._start_decoding(r)
        self.chunks = []
        return finished, handed
