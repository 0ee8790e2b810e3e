"""Workloads: request lengths, arrival processes, traces, SLOs and named presets."""

from modelchip.workload.arrivals import Arrival, ClosedLoop, Gamma, Poisson, TraceTimes
from modelchip.workload.lengths import DISTRIBUTIONS, LengthDist, sample_lengths
from modelchip.workload.presets import PRESETS, WorkloadPreset, get_preset
from modelchip.workload.slo import Slo, parse_duration
from modelchip.workload.spec import RequestSet, WorkloadSpec, generate, preset_workload
from modelchip.workload.trace import TRACE_LAYOUTS, Trace, TraceColumns, load_trace, parse_columns

__all__ = [
    "DISTRIBUTIONS",
    "PRESETS",
    "TRACE_LAYOUTS",
    "Arrival",
    "ClosedLoop",
    "Gamma",
    "LengthDist",
    "Poisson",
    "RequestSet",
    "Slo",
    "Trace",
    "TraceColumns",
    "TraceTimes",
    "WorkloadPreset",
    "WorkloadSpec",
    "generate",
    "get_preset",
    "load_trace",
    "parse_columns",
    "parse_duration",
    "preset_workload",
    "sample_lengths",
]
