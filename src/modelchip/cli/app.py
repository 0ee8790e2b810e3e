"""Entry point: sub-commands, global options, and one-line errors with exit code 2."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from modelchip.catalog.loader import CATALOG_ENV
from modelchip.cli import catalog_cmd, models_cmd, plan_cmd, predict_cmd, run_cmd, simulate_cmd, validate_cmd
from modelchip.errors import UserError

app = typer.Typer(
    name="modelchip",
    help="Plan LLM serving on NVIDIA, AMD and Chinese accelerators, validated against published measurements.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(models_cmd.app, name="models")
app.command("predict")(predict_cmd.predict)
app.command("validate")(validate_cmd.validate)
app.command("run")(run_cmd.run)
app.command("simulate")(simulate_cmd.simulate)
app.command("plan")(plan_cmd.plan_command)
app.command("compare")(plan_cmd.compare_command)
app.command("migrate")(plan_cmd.migrate_command)
app.command("sweep")(plan_cmd.sweep_command)


@app.callback()
def _global(
    catalog: list[str] = typer.Option(
        [], "--catalog", help="extra catalog directory with chips/ and systems/ YAML files (repeatable)"
    ),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks for errors"),
) -> None:
    if catalog:
        existing = [p for p in os.environ.get(CATALOG_ENV, "").split(os.pathsep) if p]
        os.environ[CATALOG_ENV] = os.pathsep.join([*existing, *catalog])


def _exit_code(exc: BaseException) -> int | None:
    """Exit code of a click/typer control-flow or usage exception. typer >= 0.20 vendors its own click
    (and no longer installs click), so the classes are recognised by typer's names and by shape, whichever
    click raised them."""
    if isinstance(exc, typer.Exit) or type(exc).__name__ == "Exit":
        return int(getattr(exc, "exit_code", 0))
    if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):  # a ClickException (usage error)
        exc.show()  # type: ignore[attr-defined]
        return 2
    if isinstance(exc, typer.Abort) or type(exc).__name__ == "Abort":
        Console(stderr=True).print("aborted")
        return 130
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, prog_name="modelchip", standalone_mode=False)
    except UserError as exc:
        if debug:
            raise
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except Exception as exc:
        code = _exit_code(exc)
        if code is None:
            raise
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
