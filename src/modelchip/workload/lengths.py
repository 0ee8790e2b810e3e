"""Request-length distributions (tokens per request), sampled with a generator passed in.

Every distribution is parameterised by its mean so that presets and `--isl/--osl` keep their meaning
when a spread is added:
- fixed: every request has `mean` tokens;
- uniform: integers in [mean - spread, mean + spread] (or [low, high] when both are given);
- normal: N(mean, spread^2), clipped to [low, high];
- lognormal: exp(N(mu, spread^2)) with mu = ln(mean) - spread^2 / 2, so that E[L] = mean (spread = sigma
  of the log; ShareGPT-like chat lengths fit sigma ~ 0.8-1.0);
- zipf: a bounded power law P(k) ~ k^-spread on k = 1..ZIPF_SUPPORT, rescaled so that E[L] = mean
  (heavy-tailed prompt lengths, as in BurstGPT's request-token histogram).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelchip.errors import UserError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

ZIPF_SUPPORT = 1000


@dataclass(frozen=True)
class LengthDist:
    """Tokens per request: `kind` in DISTRIBUTIONS, its mean and spread, clipped to [low, high]."""

    kind: str = "fixed"
    mean: float = 1024.0
    spread: float = 0.0
    """uniform: half-width in tokens; normal: std in tokens; lognormal: sigma of ln L; zipf: exponent."""
    low: int = 1
    high: int | None = None


def spread_lengths(mean: float, cv: float) -> LengthDist:
    """`mean` tokens fixed (cv = 0), or lognormal with coefficient of variation `cv`
    (sigma^2 = ln(1 + cv^2): the spread that `perf.analytic.Workload.osl_cv` assumes)."""
    if cv <= 0:
        return LengthDist("fixed", max(mean, 1.0))
    return LengthDist("lognormal", max(mean, 1.0), math.sqrt(math.log1p(cv**2)))


def _fixed(d: LengthDist, n: int, rng: np.random.Generator) -> FloatArray:
    return np.full(n, d.mean, dtype=np.float64)


def _uniform(d: LengthDist, n: int, rng: np.random.Generator) -> FloatArray:
    lo, hi = round(d.mean - d.spread), round(d.mean + d.spread)
    return rng.integers(lo, hi, size=n, endpoint=True).astype(np.float64)


def _normal(d: LengthDist, n: int, rng: np.random.Generator) -> FloatArray:
    return rng.normal(d.mean, d.spread, size=n)


def _lognormal(d: LengthDist, n: int, rng: np.random.Generator) -> FloatArray:
    mu = math.log(d.mean) - d.spread**2 / 2.0
    return rng.lognormal(mu, d.spread, size=n)


def _zipf(d: LengthDist, n: int, rng: np.random.Generator) -> FloatArray:
    ranks = np.arange(1, ZIPF_SUPPORT + 1, dtype=np.float64)
    weights = ranks ** (-d.spread)
    weights /= weights.sum()
    k = rng.choice(ranks, size=n, p=weights)
    return np.asarray(k * (d.mean / float((ranks * weights).sum())), dtype=np.float64)


DISTRIBUTIONS: dict[str, Callable[[LengthDist, int, np.random.Generator], FloatArray]] = {
    "fixed": _fixed,
    "uniform": _uniform,
    "normal": _normal,
    "lognormal": _lognormal,
    "zipf": _zipf,
}


def check_length_dist(d: LengthDist, what: str = "length") -> None:
    """One-line errors for impossible parameters."""
    if d.kind not in DISTRIBUTIONS:
        raise UserError(f"unknown {what} distribution '{d.kind}'; choose one of {', '.join(DISTRIBUTIONS)}")
    if not d.mean >= 1:
        raise UserError(f"{what} mean must be >= 1 token (got {d.mean:g})")
    if d.spread < 0 or (d.kind == "zipf" and d.spread <= 0):
        raise UserError(f"{what} spread must be {'> 0' if d.kind == 'zipf' else '>= 0'} (got {d.spread:g})")
    if d.high is not None and d.high < max(d.low, 1):
        raise UserError(f"{what} high ({d.high}) must be >= low ({d.low})")


def sample_lengths(d: LengthDist, n: int, rng: np.random.Generator) -> IntArray:
    """`n` integer lengths >= max(1, low) and <= high."""
    check_length_dist(d)
    raw = DISTRIBUTIONS[d.kind](d, n, rng)
    hi = float(d.high) if d.high is not None else np.inf
    return np.clip(np.rint(raw), max(d.low, 1), hi).astype(np.int64)
