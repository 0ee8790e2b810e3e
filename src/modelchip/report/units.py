"""SI values -> display strings (conversion happens only here, DESIGN rule 2)."""

from __future__ import annotations


def _scaled(value: float, unit: str, steps: tuple[tuple[float, str], ...]) -> str:
    for factor, prefix in steps:
        if abs(value) >= factor:
            return f"{value / factor:,.4g} {prefix}{unit}"
    return f"{value:,.4g} {unit}"


_DECIMAL = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def flops(value: float | None) -> str:
    return "-" if value is None else _scaled(value, "FLOP/s", _DECIMAL)


def bytes_(value: float | None) -> str:
    return "-" if value is None else _scaled(value, "B", _DECIMAL)


def bandwidth(value: float | None) -> str:
    return "-" if value is None else _scaled(value, "B/s", _DECIMAL)


def watts(value: float | None) -> str:
    return "-" if value is None else _scaled(value, "W", ((1e6, "M"), (1e3, "k")))


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:,.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:,.3g} ms"
    return f"{value * 1e6:,.3g} us"


def count(value: float | None) -> str:
    return "-" if value is None else _scaled(value, "", ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))).strip()


def usd(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"
