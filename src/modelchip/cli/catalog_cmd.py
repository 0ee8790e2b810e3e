"""`modelchip catalog list|show|compare`."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from modelchip.catalog.compare import HardwareFigures, figures
from modelchip.catalog.loader import load_catalog
from modelchip.catalog.schema import ChipSpec, Quantity, SystemSpec
from modelchip.cli.output import add_detail_column, add_id_column, add_number_column, console, print_json
from modelchip.report import units

app = typer.Typer(help="Chips and systems: specs with sources.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="print JSON instead of a table")


@app.command("list")
def list_(
    vendor: str | None = typer.Option(None, "--vendor", help="only this vendor (nvidia, amd, huawei, ...)"),
    as_json: bool = _JSON,
) -> None:
    """All chips and systems in the catalog."""
    cat = load_catalog()
    chips = [c for c in cat.chips.values() if vendor is None or c.vendor.lower() == vendor.lower()]
    systems = [s for s in cat.systems.values() if vendor is None or s.vendor.lower() == vendor.lower()]
    if as_json:
        print_json({"chips": [_chip_summary(c) for c in chips], "systems": [_system_summary(s) for s in systems]})
        return
    table = Table(title="Chips")
    add_id_column(table, "id", (c.id for c in chips))
    add_detail_column(table, "vendor")
    for col in ("year", "BF16 dense", "FP8 dense", "HBM", "HBM BW", "TDP"):
        add_number_column(table, col)
    add_detail_column(table, "stack")
    for c in sorted(chips, key=lambda c: (c.vendor, c.id)):
        table.add_row(
            c.id,
            c.vendor,
            str(c.year),
            units.flops(c.compute.peak_flops("bf16")),
            units.flops(c.compute.peak_flops("fp8")),
            units.bytes_(c.memory.capacity_bytes.value),
            units.bandwidth(c.memory.bandwidth_bytes_per_s.value),
            units.watts(c.tdp_w.value if c.tdp_w else None),
            c.software.stack,
        )
    console.print(table)
    stable = Table(title="Systems")
    add_id_column(stable, "id", (s.id for s in systems))
    add_detail_column(stable, "vendor")
    add_id_column(stable, "chip", (s.chip for s in systems))
    add_number_column(stable, "chips")
    add_detail_column(stable, "scale-up")
    add_number_column(stable, "power")
    for s in sorted(systems, key=lambda s: (s.vendor, s.id)):
        stable.add_row(
            s.id,
            s.vendor,
            s.chip,
            str(s.chip_count),
            f"{s.scale_up.topology} {s.scale_up.name}",
            units.watts(s.power_w.value if s.power_w else None),
        )
    console.print(stable)


def _chip_summary(c: ChipSpec) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "vendor": c.vendor,
        "year": c.year,
        "formats": list(c.compute.native_formats()),
        "hbm_bytes": c.memory.capacity_bytes.value,
        "hbm_bandwidth_bytes_per_s": c.memory.bandwidth_bytes_per_s.value,
        "stack": c.software.stack,
    }


def _system_summary(s: SystemSpec) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "vendor": s.vendor,
        "chip": s.chip,
        "chip_count": s.chip_count,
        "topology": s.scale_up.topology,
        "power_w": s.power_w.value if s.power_w else None,
    }


def _quantity_rows(prefix: str, obj: Any) -> list[tuple[str, Quantity]]:
    """Every Quantity inside a spec, with its dotted field path."""
    rows: list[tuple[str, Quantity]] = []
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        path = f"{prefix}{name}"
        if isinstance(value, Quantity):
            rows.append((path, value))
        elif hasattr(type(value), "model_fields"):
            rows.extend(_quantity_rows(path + ".", value))
    return rows


@app.command("show")
def show(hw_id: str = typer.Argument(..., help="chip or system id"), as_json: bool = _JSON) -> None:
    """One chip or system with every number's source and confidence."""
    cat = load_catalog()
    chip, system = cat.resolve(hw_id)
    spec: ChipSpec | SystemSpec = system if system is not None and system.id == hw_id else chip
    if as_json:
        print_json(spec.model_dump(mode="json"))
        return
    console.print(f"[bold]{spec.name}[/] ({spec.id}, {spec.vendor}, {spec.year})")
    table = Table(show_lines=False)
    for col in ("field", "value", "conf.", "source"):
        table.add_column(col, overflow="fold")
    for path, q in _quantity_rows("", spec):
        note = f" — {q.note}" if q.note else ""
        table.add_row(path, f"{q.value:,.6g}", q.confidence, q.source + note)
    console.print(table)
    for conflict in spec.conflicts:
        console.print(f"[yellow]conflict[/] {conflict.field}: chose {conflict.chosen} — {conflict.why}")
    if spec.notes:
        console.print(spec.notes)


@app.command("compare")
def compare(
    ids: list[str] = typer.Argument(..., help="chip or system ids"),
    as_json: bool = _JSON,
) -> None:
    """Side by side: compute per format, memory, bandwidth, power, FLOP/s per W (system totals)."""
    cat = load_catalog()
    rows = [figures(cat, i) for i in ids]
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    console.print(_compare_table(rows))


def _compare_table(rows: list[HardwareFigures]) -> Table:
    table = Table(title="Hardware comparison (dense peaks; system totals)")
    table.add_column("")
    for r in rows:
        header = f"{r.id}\n({r.chips}x {r.chip})" if r.kind == "system" else r.id
        table.add_column(header, justify="right", overflow="fold")
    formats = [f for f in ("fp32", "bf16", "fp8", "int8", "mxfp4", "nvfp4") if any(f in r.flops for r in rows)]
    for f in formats:
        table.add_row(f"{f} FLOP/s", *[units.flops(r.flops.get(f)) for r in rows])
    table.add_row("HBM", *[units.bytes_(r.hbm_bytes) for r in rows])
    table.add_row("HBM bandwidth", *[units.bandwidth(r.hbm_bandwidth_bytes_per_s) for r in rows])
    table.add_row("scale-up (uni)", *[units.bandwidth(r.scale_up_bytes_per_s_per_direction) for r in rows])
    table.add_row("scale-out (uni)", *[units.bandwidth(r.scale_out_bytes_per_s_per_direction) for r in rows])
    table.add_row("power", *[units.watts(r.power_w) for r in rows])
    table.add_row(
        "BF16 FLOP/s per W", *[units.flops(r.flops_per_watt("bf16")).replace("FLOP/s", "FLOP/s/W") for r in rows]
    )
    if len(rows) >= 2:
        base = rows[0]
        for r in rows[1:]:
            ratio = [
                _ratio(r.flops.get("bf16"), base.flops.get("bf16")),
                _ratio(r.hbm_bytes, base.hbm_bytes),
                _ratio(r.hbm_bandwidth_bytes_per_s, base.hbm_bandwidth_bytes_per_s),
                _ratio(r.power_w, base.power_w),
            ]
            table.caption = (table.caption or "") + (
                f"{r.id} / {base.id}: BF16 {ratio[0]}, HBM {ratio[1]}, HBM BW {ratio[2]}, power {ratio[3]}\n"
            )
    return table


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    ratio = a / b
    # Below 1, two significant digits: an 8-GPU box against a 384-chip supernode is 0.0041x, not "0.00x".
    return f"{ratio:.2f}x" if ratio >= 1 else f"{ratio:.2g}x"
