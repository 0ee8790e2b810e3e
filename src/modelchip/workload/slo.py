"""Service-level objectives and duration parsing ("2s", "50ms", "300us", "1.5")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelchip.errors import UserError

_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "m": 60.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*$")


@dataclass(frozen=True)
class Slo:
    """Per-request limits; a request is 'good' when it meets every limit that is set."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None


def parse_duration(text: str, option: str = "duration") -> float:
    """Seconds from '2s', '50ms', '300us', '1min' or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match or match.group(2) not in _UNITS:
        raise UserError(f"{option}: cannot read '{text}' as a duration; write e.g. 2s, 50ms or 300us")
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if value <= 0:
        raise UserError(f"{option}: duration must be > 0 (got '{text}')")
    return value
