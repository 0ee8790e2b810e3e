"""`simulate(SimulationSpec) -> SimulationResult`: the serving simulator's front door."""

from __future__ import annotations

import numpy as np

from modelchip.workload.spec import generate

from .metrics import summarise
from .results import SimulationResult
from .sim import Progress, Simulation
from .spec import SimulationSpec, check_spec


def simulate(spec: SimulationSpec, progress: Progress | None = None) -> SimulationResult:
    """Draw the workload from `spec.seed`, run the event loop to the last request, summarise.

    `progress(ended, total)` is called about a hundred times (for a progress bar); it must not
    change the simulation.
    """
    check_spec(spec)
    requests = generate(spec.workload, np.random.default_rng(spec.seed))
    sim = Simulation(spec, requests, progress)
    sim.run()
    return summarise(sim.requests, sim.log, spec.slo, spec.chips)
