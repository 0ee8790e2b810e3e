"""Parallel layout of one serving instance and its validity rules.

Conventions (shared/validation/SCHEMA.md): tp, pp, dp (attention data parallel) and moe_tp count chips;
ep counts devices that hold experts, which are dies on multi-die packages whose dies show up to software
as separate devices (Ascend 910C: 2 logical NPUs per package). Chips per instance = tp x pp x dp.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.catalog.schema import ChipSpec
from modelchip.errors import UserError


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    moe_tp: int = 1

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.dp

    def describe(self) -> str:
        return f"tp{self.tp} pp{self.pp} dp{self.dp} ep{self.ep} moe_tp{self.moe_tp}"


def devices_per_chip(layout: Layout, chip: ChipSpec) -> int:
    """Software devices per package: the die count when ep counts dies (ep*moe_tp = dies*tp*dp), else 1."""
    dies = chip.dies_per_package
    if dies > 1 and layout.ep * layout.moe_tp == dies * layout.tp * layout.dp:
        return dies
    return 1


def complete_moe_layout(layout: Layout, chip: ChipSpec) -> Layout:
    """Fill moe_tp when ep x moe_tp covers fewer devices than the stage has (e.g. tp=8, ep=1: experts TP-sharded)."""
    devices = layout.tp * layout.dp * devices_per_chip(layout, chip)
    covered = layout.ep * layout.moe_tp
    if covered < devices and devices % covered == 0:
        return Layout(layout.tp, layout.pp, layout.dp, layout.ep, layout.moe_tp * devices // covered)
    return layout


def validate_layout(layout: Layout, num_heads: int, num_layers: int, is_moe: bool, chip: ChipSpec) -> None:
    """Reject layouts the model cannot use, with the fix in the message."""
    for name in ("tp", "pp", "dp", "ep", "moe_tp"):
        if getattr(layout, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(layout, name)})")
    if num_heads % layout.tp and layout.tp % num_heads:
        raise UserError(f"tp={layout.tp} does not divide the model's {num_heads} attention heads; pick a divisor")
    if layout.pp > num_layers:
        raise UserError(f"pp={layout.pp} exceeds the model's {num_layers} layers; use pp <= {num_layers}")
    if not is_moe and (layout.ep > 1 or layout.moe_tp > 1):
        raise UserError("ep/moe_tp need a mixture-of-experts model; drop --ep/--moe-tp for a dense model")
    if is_moe:
        devices = layout.tp * layout.dp * devices_per_chip(layout, chip)
        if layout.ep * layout.moe_tp not in (devices, layout.tp * layout.dp):
            raise UserError(
                f"ep x moe_tp = {layout.ep * layout.moe_tp} must equal the devices of one pipeline stage "
                f"(tp x dp = {layout.tp * layout.dp}, x{chip.dies_per_package} dies on {chip.id}); adjust --ep/--moe-tp"
            )
