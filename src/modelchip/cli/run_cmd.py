"""`modelchip run`: the main job on the bundled defaults (what `make run` shows)."""

from __future__ import annotations

from pathlib import Path

import typer

from modelchip.catalog.compare import figures
from modelchip.catalog.loader import load_catalog
from modelchip.cli import catalog_cmd
from modelchip.cli.output import console
from modelchip.cli.plan_cmd import load_workload, make_slo, run_compare
from modelchip.cli.validate_cmd import validate
from modelchip.search.plan import PlanRequest

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


DEFAULT_MODEL = "deepseek-ai/DeepSeek-R1"
DEFAULT_SLO_MS = (2000.0, 50.0)  # TTFT <= 2 s, TPOT <= 50 ms (20 tokens/s per user): interactive chat


def run(
    report: str = typer.Option("out/validation.html", "--report", help="where to write the HTML report"),
    compare_report: str = typer.Option("out/compare.html", "--compare-report", help="the comparison's HTML report"),
) -> None:
    """Hardware overview, the default comparison (DeepSeek-R1, chat, CloudMatrix384 vs GB200 NVL72 and
    peers, planned under an SLO) and the validation summary."""
    cat = load_catalog()
    ids = [i for i in DEFAULT_SYSTEMS if i in cat.systems]
    console.rule("Systems the market compares")
    console.print(catalog_cmd._compare_table([figures(cat, i) for i in ids]))
    console.rule(f"{DEFAULT_MODEL} on each system: best deployment under the SLO (modelchip compare)")
    base = PlanRequest(DEFAULT_MODEL, ids[0], load_workload("chat", None, None), make_slo(*DEFAULT_SLO_MS, False))
    run_compare(base, ids, "local", None, None, None, False, None, Path(compare_report))
    console.rule("How much to trust the model: replay of published measurements")
    out = Path(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    validate(files=[], filter_text="", as_json=False, csv_path=None, report=out, workers=2, explain="")
