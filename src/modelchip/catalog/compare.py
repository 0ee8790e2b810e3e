"""Side-by-side figures for chips and systems: per-chip specs and per-system totals (hardware.md 6.2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from modelchip.catalog.loader import Catalog
from modelchip.catalog.schema import NUMBER_FORMATS, ChipSpec, SystemSpec


@dataclass(frozen=True)
class HardwareFigures:
    """Totals of `chips` chips (1 for a bare chip). SI units; None where the catalog has no figure."""

    id: str
    kind: str
    chip: str
    chips: int
    flops: dict[str, float]
    """dense peak FLOP/s per format."""
    hbm_bytes: float
    hbm_bandwidth_bytes_per_s: float
    scale_up_bytes_per_s_per_direction: float | None
    """summed over the chips."""
    scale_out_bytes_per_s_per_direction: float | None
    power_w: float | None
    """all-in system power if published/estimated, else chips x TDP."""
    power_source: str
    list_price_usd: float | None

    def flops_per_watt(self, fmt: str = "bf16") -> float | None:
        f = self.flops.get(fmt)
        return f / self.power_w if f and self.power_w else None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["bf16_flops_per_w"] = self.flops_per_watt("bf16")
        return d


def _flops(chip: ChipSpec, n: int) -> dict[str, float]:
    return {f: v * n for f in NUMBER_FORMATS if (v := chip.compute.peak_flops(f)) is not None}


def chip_figures(chip: ChipSpec) -> HardwareFigures:
    up = chip.scale_up.bandwidth_bytes_per_s_per_direction.value if chip.scale_up else None
    out = chip.scale_out.bandwidth_bytes_per_s_per_direction.value if chip.scale_out else None
    tdp = chip.tdp_w.value if chip.tdp_w else None
    return HardwareFigures(
        id=chip.id,
        kind="chip",
        chip=chip.id,
        chips=1,
        flops=_flops(chip, 1),
        hbm_bytes=chip.memory.capacity_bytes.value,
        hbm_bandwidth_bytes_per_s=chip.memory.bandwidth_bytes_per_s.value,
        scale_up_bytes_per_s_per_direction=up,
        scale_out_bytes_per_s_per_direction=out,
        power_w=tdp,
        power_source="TDP" if tdp else "unknown",
        list_price_usd=chip.list_price_usd.value if chip.list_price_usd else None,
    )


def system_figures(system: SystemSpec, chip: ChipSpec) -> HardwareFigures:
    n = system.chip_count
    up = system.scale_up.bandwidth_bytes_per_s_per_direction_per_chip.value * n
    out = system.scale_out.bandwidth_bytes_per_s_per_direction_per_chip.value * n if system.scale_out else None
    if system.power_w is not None:
        power: float | None = system.power_w.value
        power_source = f"system ({system.power_w.confidence}: {system.power_w.source})"
    else:
        power = chip.tdp_w.value * n if chip.tdp_w else None
        power_source = "chips x TDP (no system figure)"
    price = (
        system.list_price_usd.value
        if system.list_price_usd
        else (chip.list_price_usd.value * n if chip.list_price_usd else None)
    )
    return HardwareFigures(
        id=system.id,
        kind="system",
        chip=chip.id,
        chips=n,
        flops=_flops(chip, n),
        hbm_bytes=chip.memory.capacity_bytes.value * n,
        hbm_bandwidth_bytes_per_s=chip.memory.bandwidth_bytes_per_s.value * n,
        scale_up_bytes_per_s_per_direction=up,
        scale_out_bytes_per_s_per_direction=out,
        power_w=power,
        power_source=power_source,
        list_price_usd=price,
    )


def figures(catalog: Catalog, hw_id: str) -> HardwareFigures:
    chip, system = catalog.resolve(hw_id)
    return system_figures(system, chip) if system is not None else chip_figures(chip)
