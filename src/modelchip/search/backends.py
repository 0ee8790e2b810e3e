"""Where evaluations run: in this process, in local worker processes (the default), or on Ray.

Every backend runs the same pure `evaluate` on the same tasks and returns results in task order, so
the answer does not depend on the backend (tested). Work is shipped in chunks; `progress(done, total)`
is called as chunks finish. An optional `ResultStore` (SQLite) is consulted first and written after
every chunk, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from modelchip.catalog.loader import CATALOG_ENV
from modelchip.errors import UserError
from modelchip.search.evaluate import EvalTask, Evaluation, evaluate
from modelchip.search.store import ResultStore

Progress = Callable[[int, int], None]
Done = Callable[[list[int], list[Evaluation]], None]
BACKENDS = ("local", "serial", "ray")
CHUNK = 24  # tasks per unit of work: large enough to amortise shipping, small enough to balance
MIN_TASKS_FOR_PROCESSES = 64  # below this, starting workers costs more than it saves


def evaluate_chunk(tasks: Sequence[EvalTask]) -> list[Evaluation]:
    return [evaluate(t) for t in tasks]


def _chunks(tasks: Sequence[EvalTask]) -> list[list[EvalTask]]:
    return [list(tasks[i : i + CHUNK]) for i in range(0, len(tasks), CHUNK)]


@dataclass
class Counters:
    evaluated: int = 0
    reused: int = 0


@dataclass
class Runner:
    """An `Evaluator` (callable on a task list) with a backend, an optional store and counters."""

    backend: str = "local"
    workers: int | None = None
    address: str | None = None
    store: ResultStore | None = None
    progress: Progress | None = None
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UserError(f"unknown backend '{self.backend}'; use one of {', '.join(BACKENDS)}")

    def __call__(self, tasks: Sequence[EvalTask]) -> list[Evaluation]:
        known = self.store.load(tasks) if self.store is not None else {}
        todo = [i for i in range(len(tasks)) if i not in known]
        self.counters.reused += len(known)
        results: dict[int, Evaluation] = dict(known)
        total = len(tasks)
        self._tick(len(known), total)

        def done(indices: list[int], evals: list[Evaluation]) -> None:
            results.update(zip(indices, evals, strict=True))
            self.counters.evaluated += len(evals)
            if self.store is not None:
                self.store.save([tasks[i] for i in indices], evals)
            self._tick(len(results), total)

        self._run([tasks[i] for i in todo], todo, done)
        return [results[i] for i in range(total)]

    def _tick(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def _run(self, tasks: list[EvalTask], index: list[int], done: Done) -> None:
        if not tasks:
            return
        chunks = _chunks(tasks)
        idx = [index[i : i + CHUNK] for i in range(0, len(index), CHUNK)]
        workers = self.workers or os.cpu_count() or 1
        if self.backend == "ray":
            _run_ray(chunks, idx, done, self.address)
        elif self.backend == "serial" or workers <= 1 or len(tasks) < MIN_TASKS_FOR_PROCESSES:
            for chunk, ii in zip(chunks, idx, strict=True):
                done(ii, evaluate_chunk(chunk))
        else:
            _run_processes(chunks, idx, done, workers)


def _run_processes(
    chunks: list[list[EvalTask]],
    idx: list[list[int]],
    done: Done,
    workers: int,
) -> None:
    # fork: workers inherit the loaded catalog and models (no re-import); spawn where fork is absent.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=ctx) as pool:
        futures = {pool.submit(evaluate_chunk, c): ii for c, ii in zip(chunks, idx, strict=True)}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--backend ray needs the ray extra: pip install 'modelchip[ray]'") from None
    return ray


def _run_ray(
    chunks: list[list[EvalTask]],
    idx: list[list[int]],
    done: Done,
    address: str | None,
) -> None:
    ray = _ray()
    if not ray.is_initialized():
        # workers see the same user catalog directories as this process
        env = {CATALOG_ENV: os.environ[CATALOG_ENV]} if CATALOG_ENV in os.environ else {}
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            runtime_env={"env_vars": env} if env else None,
        )
    remote = ray.remote(evaluate_chunk)
    pending = {remote.remote(c): ii for c, ii in zip(chunks, idx, strict=True)}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            done(pending.pop(ref), ray.get(ref))
