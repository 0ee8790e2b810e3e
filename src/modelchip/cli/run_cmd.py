"""`modelchip run`: the main job on the bundled defaults (what `make run` shows)."""

from __future__ import annotations

import typer

from modelchip.catalog.compare import figures
from modelchip.catalog.loader import load_catalog
from modelchip.cli import catalog_cmd
from modelchip.cli.output import console
from modelchip.cli.validate_cmd import validate

DEFAULT_SYSTEMS = (
    "cloudmatrix384",
    "gb200-nvl72",
    "hgx-h20",
    "hgx-h800",
    "hgx-h100",
    "hgx-h200",
    "atlas-800t-a2",
    "atlas-800-a3",
    "metax-supernode-128",
)


def run(report: str = typer.Option("out/validation.html", "--report", help="where to write the HTML report")) -> None:
    """Hardware overview (CloudMatrix384 vs GB200 NVL72 and peers) and the validation summary."""
    cat = load_catalog()
    ids = [i for i in DEFAULT_SYSTEMS if i in cat.systems]
    console.rule("Systems the market compares")
    console.print(catalog_cmd._compare_table([figures(cat, i) for i in ids]))
    console.rule("How much to trust the model: replay of published measurements")
    from pathlib import Path

    out = Path(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    validate(files=[], filter_text="", as_json=False, csv_path=None, report=out)
