"""SQLite store of evaluations, so an interrupted sweep resumes without redoing finished points.

One row per evaluated candidate, keyed by a hash of everything the result depends on: the task
(model, candidate, workload, price), the model's normalised spec, the chip and system specs, and the
source and data of the performance model itself (so results computed by an older model are never
reused). Each chunk of results is committed as it arrives (WAL journal), so a killed run loses at most
the chunk in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from modelchip.catalog.loader import load_catalog
from modelchip.deploy.layout import Layout
from modelchip.errors import UserError
from modelchip.models.hf import load_model
from modelchip.search.evaluate import Breakdown, CurvePoint, EvalTask, Evaluation, PrefillOption
from modelchip.search.space import Candidate

DEFAULT_DB = "out/modelchip-sweeps.sqlite"
_CODE_PACKAGES = ("modelchip.perf", "modelchip.deploy", "modelchip.search")


@cache
def code_fingerprint() -> str:
    """Hash of the performance model's source and data files (perf, deploy, search)."""
    h = hashlib.sha256()
    for pkg in _CODE_PACKAGES:
        root = resources.files(pkg)
        for path in sorted(Path(str(root)).rglob("*"), key=str):
            if path.suffix in (".py", ".yaml", ".json") and path.is_file():
                h.update(path.name.encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


@cache
def _spec_fingerprint(model: str, system: str) -> str:
    cat = load_catalog()
    sys_spec = cat.system(system)
    text = repr((load_model(model), sys_spec, cat.chip(sys_spec.chip)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def task_key(task: EvalTask) -> str:
    c = task.candidate
    raw = "|".join(
        [
            code_fingerprint(),
            _spec_fingerprint(task.model, c.system),
            task.model,
            c.key(),
            repr((task.isl, task.osl, task.prefix_hit, task.price_per_chip_hour, task.osl_cv)),
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def to_json(e: Evaluation) -> str:
    return json.dumps(dataclasses.asdict(e), separators=(",", ":"))


def from_json(text: str) -> Evaluation:
    d: dict[str, Any] = json.loads(text)
    cand = d["candidate"]
    d["candidate"] = Candidate(**{**cand, "layout": Layout(**cand["layout"])})
    d["notes"] = tuple(d["notes"])
    d["points"] = tuple(CurvePoint(**p) for p in d["points"])
    d["prefill"] = tuple(PrefillOption(**p) for p in d["prefill"])
    for k in ("decode_breakdown", "prefill_breakdown"):
        d[k] = Breakdown(**d[k]) if d[k] is not None else None
    return Evaluation(**d)


class ResultStore:
    """Evaluations by task key in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS evaluations (key TEXT PRIMARY KEY, result TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"{self.path}: cannot open the results database ({exc}); pass another --db") from exc

    def load(self, tasks: Sequence[EvalTask]) -> dict[int, Evaluation]:
        """Stored results for `tasks`, by position in the list."""
        keys = [task_key(t) for t in tasks]
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(f"SELECT key, result FROM evaluations WHERE key IN ({marks})", batch)
            found.update(rows.fetchall())
        return {i: from_json(found[k]) for i, k in enumerate(keys) if k in found}

    def save(self, tasks: Sequence[EvalTask], evals: Sequence[Evaluation]) -> None:
        rows = [(task_key(t), to_json(e)) for t, e in zip(tasks, evals, strict=True)]
        self._db.executemany("INSERT OR REPLACE INTO evaluations (key, result) VALUES (?, ?)", rows)
        self._db.commit()

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    def close(self) -> None:
        self._db.close()
