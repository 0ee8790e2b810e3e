"""Routers: which instance of a pool gets the next request (ROUTERS, one entry per policy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class Loaded(Protocol):
    def load(self) -> int: ...


def _round_robin(instances: Sequence[Loaded], counter: int) -> int:
    return counter % len(instances)


def _least_load(instances: Sequence[Loaded], counter: int) -> int:
    """Fewest requests held (queued, prefilling or decoding); ties go to the next in round-robin order."""
    n = len(instances)
    best, best_load = counter % n, instances[counter % n].load()
    for k in range(1, n):
        i = (counter + k) % n
        load = instances[i].load()
        if load < best_load:
            best, best_load = i, load
    return best


ROUTERS: dict[str, Callable[[Sequence[Loaded], int], int]] = {
    "round-robin": _round_robin,
    "least-load": _least_load,
}
