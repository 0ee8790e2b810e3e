"""Run a predictor over validation cases and record prediction, measurement and error per case.

The predictor (the physics) is passed in: `Predictor = Callable[[Case], float]`, returning the value of
`case.metric` in the metric's unit. It raises `Unsupported(reason)` for a case it cannot handle; a
`UserError` it raises (an unknown hardware id, say) propagates, prefixed with the case id.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Any, Literal

from modelchip.errors import UserError
from modelchip.validate.cases import Case, Unsupported

Predictor = Callable[[Case], float]
Progress = Callable[[int, int], None]
Status = Literal["ok", "unsupported"]


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case. `predicted` and `error` are None when status is "unsupported".

    error = (predicted - measured) / measured (SCHEMA.md, "Error measure").
    """

    id: str
    metric: str
    hardware: str
    model: str
    engine: str
    trust: str
    mode: str
    status: Status
    predicted: float | None
    measured: float
    error: float | None
    reason: str
    source: str
    load: float | None = None
    """a Poisson case's request rate over the model's capacity for its deployment (`offered_load`);
    near 1 its latencies swing with capacity differences of a few percent. None for other cases."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _result(case: Case, predicted: float | None, reason: str = "") -> CaseResult:
    error = None if predicted is None else (predicted - case.value) / case.value
    return CaseResult(
        id=case.id,
        metric=str(case.metric),
        hardware=case.hardware,
        model=case.model,
        engine=case.engine,
        trust=case.trust,
        mode=case.mode,
        status="ok" if predicted is not None else "unsupported",
        predicted=predicted,
        measured=case.value,
        error=error,
        reason=reason,
        source=case.source,
    )


def _with_case_id(case_id: str, exc: UserError) -> UserError:
    msg = str(exc)
    prefix = f"case {case_id}"
    return UserError(msg if msg.startswith(prefix) else f"{prefix}: {msg}")


def run_case(case: Case, predictor: Predictor) -> CaseResult:
    """Predict one case. A non-finite or non-positive prediction is recorded as unsupported."""
    try:
        value = predictor(case)
    except Unsupported as exc:
        return _result(case, None, exc.reason or "unsupported (no reason given)")
    except UserError as exc:
        raise _with_case_id(case.id, exc) from exc
    except Exception as exc:
        exc.add_note(f"while predicting validation case {case.id}")
        raise
    predicted = float(value)
    if not math.isfinite(predicted) or predicted <= 0:
        return _result(case, None, f"predictor returned an invalid value ({predicted!r})")
    return _result(case, predicted)


def _run_group(cases: list[Case], predictor: Predictor) -> list[CaseResult]:
    return [run_case(case, predictor) for case in cases]


def run_cases(
    cases: Iterable[Case], predictor: Predictor, progress: Progress | None = None, workers: int = 1
) -> list[CaseResult]:
    """Predict every case; results come back in case order whatever `workers` is.

    `workers` > 1 spreads cases over that many processes (the predictor must be a module-level
    function); cases of one setup (`Case.setup_key`: a run's throughput, TTFT and TPOT) go to the same
    process, which simulates their shared runs once. `progress(done, total)` is called as cases finish.
    """
    todo = list(cases)
    if workers <= 1 or len(todo) < 2:
        results: list[CaseResult] = []
        for case in todo:
            results.append(run_case(case, predictor))
            if progress is not None:
                progress(len(results), len(todo))
        return results
    groups: dict[str, list[int]] = {}
    for i, case in enumerate(todo):
        groups.setdefault(case.setup_key(), []).append(i)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(_run_group, [todo[i] for i in members], predictor): members for members in groups.values()
        }
        done: dict[int, CaseResult] = {}
        for future in as_completed(futures):
            done.update(zip(futures[future], future.result(), strict=True))
            if progress is not None:
                progress(len(done), len(todo))
    return [done[i] for i in range(len(todo))]
