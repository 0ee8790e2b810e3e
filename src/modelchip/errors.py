"""User-facing errors: one line that names the input and the fix (the CLI exits with code 2)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input (unknown id, malformed file, impossible layout).

    The CLI prints ``str(error)`` on one line and exits with status 2; ``--debug`` shows the traceback.
    """


class UnknownIdError(UserError):
    """An id that no registry (catalog, model bundle, preset table) knows."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidate ids closest to ``name`` (for "did you mean" hints)."""
    pool = list(candidates)
    hits = difflib.get_close_matches(name, pool, n=n, cutoff=0.4)
    if not hits:
        hits = [c for c in pool if name.lower() in c.lower()][:n]
    return hits


def unknown_id(kind: str, name: str, candidates: Iterable[str], hint: str = "") -> UnknownIdError:
    """An error for an id that is not in a registry, with the closest ids."""
    pool = sorted(candidates)
    near = closest(name, pool)
    near_text = f"; closest: {', '.join(near)}" if near else ""
    fix = hint or f"run `modelchip {kind} list` for all ids"
    return UnknownIdError(f"unknown {kind} id '{name}'{near_text} ({fix})")
