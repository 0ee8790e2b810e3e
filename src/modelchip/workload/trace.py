"""Request traces from CSV or JSONL files: arrival time, input tokens and output tokens per request.

Column layouts of common public traces are built in (TRACE_LAYOUTS); any other file loads with an
explicit `TraceColumns` mapping. Timestamps may be seconds (scaled by `time_scale_s`) or ISO datetimes;
arrival times are returned relative to the earliest request, sorted.
- azure: Azure LLM inference traces 2023/2024 (TIMESTAMP, ContextTokens, GeneratedTokens),
  github.com/Azure/AzurePublicDataset;
- burstgpt: BurstGPT (Timestamp, Request tokens, Response tokens), github.com/HPMLL/BurstGPT;
- mooncake: Mooncake traces, JSONL (timestamp in ms, input_length, output_length),
  github.com/kvcache-ai/Mooncake;
- modelchip: this project's own layout (arrival_s, isl, osl).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from modelchip.errors import UserError
from modelchip.workload.lengths import FloatArray, IntArray


@dataclass(frozen=True)
class TraceColumns:
    arrival: str
    isl: str
    osl: str
    time_scale_s: float = 1.0
    """seconds per unit of a numeric timestamp (1e-3 for milliseconds)."""


TRACE_LAYOUTS: dict[str, TraceColumns] = {
    "azure": TraceColumns("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "burstgpt": TraceColumns("Timestamp", "Request tokens", "Response tokens"),
    "mooncake": TraceColumns("timestamp", "input_length", "output_length", 1e-3),
    "modelchip": TraceColumns("arrival_s", "isl", "osl"),
}


@dataclass(frozen=True)
class Trace:
    arrival_s: FloatArray
    isl: IntArray
    osl: IntArray
    source: str

    def __len__(self) -> int:
        return len(self.isl)


def parse_columns(text: str) -> TraceColumns:
    """'arrival=TIMESTAMP,isl=ContextTokens,osl=GeneratedTokens[,scale=0.001]' -> TraceColumns."""
    parts = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
    missing = [k for k in ("arrival", "isl", "osl") if k not in parts]
    if missing:
        raise UserError(
            f"--trace-columns '{text}' lacks {', '.join(missing)}; write arrival=COL,isl=COL,osl=COL[,scale=0.001]"
        )
    try:
        scale = float(parts.get("scale", "1"))
    except ValueError:
        raise UserError(f"--trace-columns: scale must be a number (got '{parts['scale']}')") from None
    return TraceColumns(parts["arrival"].strip(), parts["isl"].strip(), parts["osl"].strip(), scale)


def _rows(path: Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    """(line number, record) for every data row of a CSV or JSONL file."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"{path}: cannot read trace ({exc.strerror}); check the path") from exc
    with handle:
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{line_no}: malformed JSON line ({exc.msg}); fix the line") from None
                if not isinstance(record, dict):
                    raise UserError(f"{path}:{line_no}: expected a JSON object per line")
                yield line_no, record
        else:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, row


def detect_layout(keys: set[str]) -> TraceColumns | None:
    """The built-in layout whose three columns all appear in `keys`."""
    for cols in TRACE_LAYOUTS.values():
        if {cols.arrival, cols.isl, cols.osl} <= keys:
            return cols
    return None


def _time(value: object, scale: float) -> float:
    if isinstance(value, int | float):
        return float(value) * scale
    text = str(value).strip()
    try:
        return float(text) * scale
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


def _tokens(value: object) -> int:
    number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    if not np.isfinite(number) or number < 0:
        raise ValueError(value)
    return int(number)


def _columns_for(path: Path, record: Mapping[str, object], columns: TraceColumns | None) -> TraceColumns:
    cols = columns or detect_layout(set(record))
    if cols is None:
        raise UserError(
            f"{path}: no known trace layout in columns ({', '.join(map(str, record))}); "
            "pass --trace-columns arrival=COL,isl=COL,osl=COL"
        )
    for field, name in (("arrival", cols.arrival), ("isl", cols.isl), ("osl", cols.osl)):
        if name not in record:
            raise UserError(
                f"{path}: no column '{name}' for {field} (columns: {', '.join(map(str, record))}); "
                f"fix the mapping with --trace-columns {field}=COLUMN"
            )
    return cols


def load_trace(path: Path, columns: TraceColumns | None = None, layout: str | None = None) -> Trace:
    """Read a trace; `layout` names a TRACE_LAYOUTS entry, `columns` maps any other file."""
    if layout is not None:
        if layout not in TRACE_LAYOUTS:
            raise UserError(f"unknown trace layout '{layout}'; layouts: {', '.join(TRACE_LAYOUTS)}")
        columns = TRACE_LAYOUTS[layout]
    times: list[float] = []
    isl: list[int] = []
    osl: list[int] = []
    cols = columns
    for line_no, record in _rows(path):
        cols = _columns_for(path, record, cols)
        for name, parse, out in ((cols.isl, _tokens, isl), (cols.osl, _tokens, osl)):
            try:
                out.append(parse(record[name]))
            except (ValueError, TypeError):
                raise UserError(
                    f"{path}:{line_no}: column '{name}': '{record[name]}' is not a token count; fix the value"
                ) from None
        try:
            times.append(_time(record[cols.arrival], cols.time_scale_s))
        except (ValueError, TypeError):
            raise UserError(
                f"{path}:{line_no}: column '{cols.arrival}': '{record[cols.arrival]}' is not a time "
                "(seconds or ISO datetime); fix the value"
            ) from None
    if not times:
        raise UserError(f"{path}: the trace has no requests")
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    return Trace(
        arrival_s=t[order] - t[order][0],
        isl=np.maximum(np.asarray(isl, dtype=np.int64)[order], 1),
        osl=np.maximum(np.asarray(osl, dtype=np.int64)[order], 1),
        source=str(path),
    )
