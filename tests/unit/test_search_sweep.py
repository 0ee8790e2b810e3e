"""Sweeps: SQLite resume without redoing finished points, identical results on every backend; compare and
migrate on small spaces."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from modelchip.search import backends
from modelchip.search.backends import Runner
from modelchip.search.compare import compare
from modelchip.search.config import Slo, objective_value
from modelchip.search.migrate import chips_to_match, deployed_throughput, migrate
from modelchip.search.plan import PlanRequest, WorkloadSpec, plan, tasks_for
from modelchip.search.space import SearchSpace
from modelchip.search.store import ResultStore, from_json, to_json

MODEL = "meta-llama/Meta-Llama-3.1-8B"
CHAT = WorkloadSpec("chat", 1024, 300)
SPACE = SearchSpace(max_chips=8, kv_formats=("bf16", "fp8"), mtp=(0,))
REQ = PlanRequest(MODEL, "hgx-h100", CHAT, Slo(tpot_s=0.03), space=SPACE)


def test_evaluation_round_trips_through_json() -> None:
    evals = Runner("serial")(tasks_for(REQ)[:5])
    assert [from_json(to_json(e)) for e in evals] == evals


def test_sqlite_resume_skips_finished_points(tmp_path: Path) -> None:
    db = tmp_path / "sweep.sqlite"
    tasks = tasks_for(REQ)
    half = len(tasks) // 2
    store = ResultStore(db)
    first = Runner("serial", store=store)
    first(tasks[:half])  # an interrupted sweep: only the first half finished
    assert first.counters.evaluated == half
    store.close()
    store = ResultStore(db)
    resumed = Runner("serial", store=store)
    out = resumed(tasks)
    assert resumed.counters.evaluated == len(tasks) - half
    assert resumed.counters.reused == half
    again = Runner("serial", store=store)
    assert again(tasks) == out and again.counters.evaluated == 0
    assert store.count() == len(tasks)
    store.close()
    fresh = plan(REQ, Runner("serial"))
    from_db = plan(REQ, Runner("serial", store=ResultStore(db)))
    assert from_db.best == fresh.best and from_db.frontier == fresh.frontier


def test_local_processes_give_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "MIN_TASKS_FOR_PROCESSES", 0)
    monkeypatch.setattr(backends, "CHUNK", 3)
    serial = plan(REQ, Runner("serial"))
    seen: list[int] = []
    local = plan(REQ, Runner("local", workers=2, progress=lambda d, t: seen.append(d)))
    assert local.best == serial.best and local.ranked == serial.ranked and local.frontier == serial.frontier
    assert seen and seen[-1] == serial.candidates and seen == sorted(seen)


@pytest.mark.ray
def test_ray_backend_gives_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(backends, "CHUNK", 8)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = plan(REQ, Runner("ray"))
    finally:
        ray.shutdown()
    serial = plan(REQ, Runner("serial"))
    assert on_ray.best == serial.best and on_ray.ranked == serial.ranked and on_ray.frontier == serial.frontier


def test_compare_names_the_system_with_the_best_objective() -> None:
    base = replace(REQ, space=replace(SPACE, max_chips=2))
    r = compare(base, ["hgx-h100", "hgx-h200", "hgx-h20"])
    assert len(r.plans) == 3 and r.wins
    for w in r.wins:
        values = {
            p.request.system: objective_value(c, w.objective)
            for p in r.plans
            if (c := p.best_by_objective[w.objective])
        }
        assert w.winner == max(values, key=lambda s: values[s])
        assert w.ratio is None or w.ratio >= 1.0
        assert w.why


def test_migrate_matches_the_source_throughput() -> None:
    base = replace(REQ, space=replace(SPACE, max_chips=None))
    m = migrate(base, 16, ["hgx-h200", "hgx-h20"])
    src = m.source.best
    assert src is not None and m.source_chips <= 16
    assert m.source_throughput_tokens_per_s == pytest.approx(deployed_throughput(src, 16)[0])
    for r in m.replacements:
        assert r.config is not None
        assert r.throughput_tokens_per_s >= m.source_throughput_tokens_per_s * (1 - 1e-9)
        # one instance fewer would fall short
        short = (r.chips - r.config.chips_per_instance) * r.config.tokens_per_s_per_chip
        assert short < m.source_throughput_tokens_per_s
        assert r.chips == chips_to_match(r.config, m.source_throughput_tokens_per_s)
        assert r.systems == math.ceil(r.chips / 8)
