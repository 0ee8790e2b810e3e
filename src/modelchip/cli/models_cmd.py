"""`modelchip models list|show`."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from modelchip.cli.output import add_detail_column, add_id_column, add_number_column, console, print_json
from modelchip.deploy.precision import FORMAT_BYTES
from modelchip.models.hf import list_models, load_model
from modelchip.models.params import count_params, kv_cache_bytes_per_token
from modelchip.models.schema import ModelSpec
from modelchip.report import units

app = typer.Typer(help="Models: bundled Hugging Face configs and their sizes.", no_args_is_help=True)

WIDE_TABLE_COLUMNS = 110
_SHOW_FORMATS = ("bf16", "fp8", "int8", "mxfp4", "nvfp4")


def _summary(spec: ModelSpec) -> dict[str, Any]:
    p = count_params(spec)
    kinds = sorted({layer.attention.kind for layer in spec.layers})
    return {
        "id": spec.id,
        "architecture": spec.architecture,
        "layers": spec.num_layers,
        "total_params": p.total,
        "active_params": p.active,
        "attention": kinds,
        "moe": spec.is_moe,
        "native_weight_format": spec.native_weight_format,
        "mtp_layers": spec.mtp_layers,
    }


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Bundled models."""
    rows = [_summary(load_model(m)) for m in list_models()]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Bundled models")
    add_id_column(table, "id", (r["id"] for r in rows))
    # The architecture name is the widest free text: a narrow terminal keeps the ids and numbers whole.
    wide = console.width >= WIDE_TABLE_COLUMNS
    if wide:
        add_detail_column(table, "architecture")
    for col in ("layers", "total", "active", "attention", "format"):
        add_number_column(table, col)
    for r in rows:
        numbers = (
            str(r["layers"]),
            units.count(r["total_params"]),
            units.count(r["active_params"]),
            "+".join(r["attention"]),
            r["native_weight_format"],
        )
        table.add_row(r["id"], *((r["architecture"],) if wide else ()), *numbers)
    console.print(table)


@app.command("show")
def show(
    model: str = typer.Argument(..., help="bundled repo id (org/name) or a path to config.json"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Parameters, KV bytes per token and weight bytes per format."""
    spec = load_model(model)
    p = count_params(spec)
    data = _summary(spec) | {
        "params": p.__dict__,
        "kv_bytes_per_token": {f: kv_cache_bytes_per_token(spec, FORMAT_BYTES[f]) for f in ("bf16", "fp8")},
        "weight_bytes": {f: p.total * FORMAT_BYTES[f] for f in _SHOW_FORMATS},
        "notes": list(spec.notes),
    }
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]{spec.id}[/] ({spec.architecture}), {spec.num_layers} layers, hidden {spec.hidden_size}, "
        f"vocab {spec.vocab_size}, native {spec.native_weight_format}"
    )
    table = Table(title="Parameters")
    table.add_column("part")
    table.add_column("count", justify="right")
    for name, value in p.__dict__.items():
        table.add_row(name, units.count(value))
    console.print(table)
    kv = Table(title="Per token / per format")
    kv.add_column("format")
    kv.add_column("KV cache per token", justify="right")
    kv.add_column("weights", justify="right")
    for f in _SHOW_FORMATS:
        kv.add_row(
            f, units.bytes_(kv_cache_bytes_per_token(spec, FORMAT_BYTES[f])), units.bytes_(p.total * FORMAT_BYTES[f])
        )
    console.print(kv)
    for note in spec.notes:
        console.print(f"note: {note}")
