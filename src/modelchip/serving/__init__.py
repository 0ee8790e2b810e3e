"""Request-level serving simulation over the performance model's step times.

```python
from modelchip.serving import PoolSpec, SimulationSpec, simulate
from modelchip.workload import ClosedLoop, LengthDist, WorkloadSpec
r = simulate(SimulationSpec(PoolSpec(target), WorkloadSpec(arrival=ClosedLoop(64), requests=2000)))
r.ttft.p99_s, r.tpot.mean_s, r.throughput.output_tokens_per_s_per_chip, r.goodput_requests_per_s
```
"""

from modelchip.serving.api import simulate
from modelchip.serving.clock import StepClock
from modelchip.serving.results import LatencyStats, RequestRecords, SimulationResult, Throughput, Timeline
from modelchip.serving.router import ROUTERS
from modelchip.serving.spec import EngineConfig, PoolSpec, SimulationSpec, engine_for, offered_load, step_budget_under

__all__ = [
    "ROUTERS",
    "EngineConfig",
    "LatencyStats",
    "PoolSpec",
    "RequestRecords",
    "SimulationResult",
    "SimulationSpec",
    "StepClock",
    "Throughput",
    "Timeline",
    "engine_for",
    "offered_load",
    "simulate",
    "step_budget_under",
]
