"""`modelchip plan | compare | migrate | sweep`: the planner's commands (rich tables, progress bars,
--json, --csv, --report)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelchip.cli.output import console, print_json
from modelchip.errors import UserError
from modelchip.fileio import read_structured
from modelchip.report import plan_html
from modelchip.search.backends import Runner
from modelchip.search.compare import CompareResult, compare, with_plans
from modelchip.search.config import OBJECTIVES, Config, Slo
from modelchip.search.confirm import Confirmation, confirm_best
from modelchip.search.migrate import MigrateResult, migrate
from modelchip.search.plan import PlanRequest, PlanResult, WorkloadSpec, plan
from modelchip.search.space import SearchSpace
from modelchip.search.store import DEFAULT_DB, ResultStore
from modelchip.workload.presets import PRESETS
from modelchip.workload.slo import parse_duration

MODEL = typer.Option("deepseek-ai/DeepSeek-R1", "--model", help="bundled repo id or path to config.json")
WORKLOAD = typer.Option("chat", "--workload", help=f"preset ({', '.join(PRESETS)}) or a YAML/JSON file with isl, osl")
ISL = typer.Option(None, "--isl", help="override the workload's input tokens")
OSL = typer.Option(None, "--osl", help="override the workload's output tokens")
OSL_CV = typer.Option(
    None, "--osl-cv", help="output-length spread (std/mean): 0 fixed lengths (default), ~1 a real dataset"
)
TTFT = typer.Option(None, "--slo-ttft", help="TTFT limit: 2s, 500ms (a bare number is ms)")
TPOT = typer.Option(None, "--slo-tpot", help="TPOT limit: 50ms (a bare number is ms; 1000 / tokens/s per user)")
P99 = typer.Option(False, "--p99", help="limits are p99 rather than means")
OBJECTIVE = typer.Option("chip", "--objective", help=f"rank by tokens/s per {' | '.join(OBJECTIVES)}")
MAX_CHIPS = typer.Option(None, "--max-chips", help="chips budget (default: the system's size)")
PRICE = typer.Option(None, "--price-per-chip-hour", help="USD per chip-hour (default: list price amortised)")
ENGINE = typer.Option(None, "--engine", help="serving engine (default: per chip)")
MODE = typer.Option("both", "--mode", help="aggregated | disaggregated | both")
BACKEND = typer.Option("local", "--backend", help="local (processes) | serial | ray")
WORKERS = typer.Option(None, "--workers", help="local worker processes (default: CPU count)")
ADDRESS = typer.Option(None, "--address", help="Ray cluster address (default: start a local Ray)")
DB = typer.Option(None, "--db", help="SQLite file that keeps evaluations (resume; off by default)")
JSON = typer.Option(False, "--json", help="print JSON")
CSV = typer.Option(None, "--csv", help="write the table as CSV")
REPORT = typer.Option(None, "--report", help="write a self-contained HTML report")
TOP = typer.Option(10, "--top", help="rows of the ranked table")
SIMULATE = typer.Option(2, "--simulate", help="confirm the best N configs (per system) in the serving simulator")


def load_workload(spec: str, isl: float | None, osl: float | None, osl_cv: float | None = None) -> WorkloadSpec:
    """A preset name or a YAML/JSON file with numeric isl and osl (optional name, prefix_hit, osl_cv)."""
    if spec in PRESETS:
        p = PRESETS[spec]
        w = WorkloadSpec(p.name, float(p.isl), float(p.osl))
    elif Path(spec).suffix.lower() in (".yaml", ".yml", ".json"):
        data = read_structured(Path(spec))
        if not isinstance(data, dict):
            raise UserError(f"{spec}: expected a mapping with isl and osl; fix the file")
        vals = {}
        for field in ("isl", "osl"):
            v = data.get(field)
            if not isinstance(v, int | float) or v <= 0:
                raise UserError(f"{spec}: field '{field}' must be a positive number (got {v!r}); fix the file")
            vals[field] = float(v)
        hit = data.get("prefix_hit", 0.0)
        if not isinstance(hit, int | float) or not 0 <= hit < 1:
            raise UserError(f"{spec}: field 'prefix_hit' must be within [0, 1) (got {hit!r}); fix the file")
        cv = data.get("osl_cv", 0.0)
        if not isinstance(cv, int | float) or cv < 0:
            raise UserError(f"{spec}: field 'osl_cv' must be a number >= 0 (got {cv!r}); fix the file")
        w = WorkloadSpec(str(data.get("name", Path(spec).stem)), vals["isl"], vals["osl"], float(hit), float(cv))
    else:
        raise UserError(f"unknown workload '{spec}'; use a preset ({', '.join(PRESETS)}) or a .yaml/.json file")
    for name, v in (("--isl", isl), ("--osl", osl)):
        if v is not None and v <= 0:
            raise UserError(f"{name} must be > 0 (got {v})")
    if osl_cv is not None and osl_cv < 0:
        raise UserError(f"--osl-cv must be >= 0 (got {osl_cv})")
    return WorkloadSpec(w.name, isl or w.isl, osl or w.osl, w.prefix_hit, w.osl_cv if osl_cv is None else osl_cv)


def _limit_s(text: str | float | None, option: str) -> float | None:
    """Seconds from '2s' / '50ms' (parse_duration), or from a bare number of milliseconds."""
    if text is None:
        return None
    try:
        ms = float(text)
    except ValueError:
        return parse_duration(str(text), option)
    if ms <= 0:
        raise UserError(f"{option} must be > 0 (got {text})")
    return ms / 1e3


def make_slo(ttft: str | float | None, tpot: str | float | None, p99: bool) -> Slo:
    return Slo(_limit_s(ttft, "--slo-ttft"), _limit_s(tpot, "--slo-tpot"), p99)


def make_space(max_chips: int | None, engine: str | None, mode: str) -> SearchSpace:
    modes = {"both": ("aggregated", "disaggregated"), "aggregated": ("aggregated",)}
    modes["disaggregated"] = ("disaggregated",)
    if mode not in modes:
        raise UserError(f"--mode must be aggregated, disaggregated or both (got '{mode}')")
    if max_chips is not None and max_chips < 1:
        raise UserError(f"--max-chips must be >= 1 (got {max_chips})")
    return SearchSpace(max_chips=max_chips, engine=engine, modes=modes[mode])


@dataclass
class Session:
    run: Runner
    on_system: Callable[[str], None] | None = None


@contextmanager
def session(backend: str, workers: int | None, address: str | None, db: Path | None, quiet: bool) -> Iterator[Session]:
    """A `Runner` with a progress bar (unless quiet) and the optional SQLite store."""
    store = ResultStore(db) if db is not None else None
    try:
        if quiet:
            yield Session(Runner(backend, workers, address, store))
            return
        cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*cols, console=console, transient=True) as bar:
            task = bar.add_task("evaluating", total=None)
            r = Runner(backend, workers, address, store, lambda d, t: bar.update(task, completed=d, total=t))
            yield Session(r, lambda s: bar.update(task, description=f"evaluating {s}", completed=0))
    finally:
        if store is not None:
            store.close()


# ------------------------------------------------------------------------------------------ output


TERMINAL_COLUMNS = (
    "deployment",
    "batch/inst",
    "TTFT ms",
    "TPOT ms",
    "tok/s/user",
    "tok/s/chip",
    "tok/s/kW",
    "HBM used",
)
FRONTIER_ROWS = 12


def config_table(configs: Sequence[Config], title: str, system: bool = False) -> Table:
    """A compact table (the CSV, JSON and HTML carry every column)."""
    table = Table(title=title, show_lines=False)
    cols = [(h, g) for h, g in plan_html.COLUMNS if h in TERMINAL_COLUMNS or (system and h == "system")]
    for h, _ in cols:
        table.add_column(h, overflow="fold", justify="left" if h in ("system", "deployment") else "right")
    table.add_column("bound P/D")
    for c in configs:
        bound = f"{c.prefill_bound[:4]}/{c.decode_bound[:4]}"
        table.add_row(*(plan_html.cell_text(g(c)) for _, g in cols), bound)
    return table


def thin(configs: Sequence[Config], n: int) -> list[Config]:
    """At most n configs spread evenly over the list (ends kept)."""
    if len(configs) <= n:
        return list(configs)
    step = (len(configs) - 1) / (n - 1)
    return [configs[round(i * step)] for i in range(n)]


def config_dict(c: Config) -> dict[str, Any]:
    return {h: g(c) for h, g in plan_html.COLUMNS}


def write_csv(path: Path, configs: Sequence[Config]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([h for h, _ in plan_html.COLUMNS])
        for c in configs:
            w.writerow([g(c) for _, g in plan_html.COLUMNS])


def plan_dict(p: PlanResult) -> dict[str, Any]:
    return {
        "system": p.request.system,
        "model": p.request.model,
        "workload": vars(p.request.workload),
        "slo": p.request.slo.describe(),
        "objective": p.request.objective,
        "candidates": p.candidates,
        "feasible": p.feasible,
        "configs": p.configs,
        "elapsed_s": round(p.elapsed_s, 3),
        "error": p.error(),
        "best": config_dict(p.best) if p.best else None,
        "best_by_objective": {o: config_dict(c) if c else None for o, c in p.best_by_objective.items()},
        "ranked": [config_dict(c) for c in p.ranked],
        "frontier": [config_dict(c) for c in p.frontier],
    }


def print_plan(p: PlanResult, top: int) -> None:
    err = p.error()
    console.print(
        f"[bold]{p.request.system}[/]: {p.candidates} candidates, {p.feasible} fit, {p.configs} operating points "
        f"in {p.elapsed_s:.2f} s (analytical model)"
    )
    if p.systems_used > 1:
        console.print(f"[yellow]note[/] the model fits no single {p.request.system}: planned across {p.systems_used}")
    if err:
        console.print(f"[red]{err}[/]", soft_wrap=True)
        return
    console.print(config_table(p.ranked[:top], f"Best under {p.request.slo.describe()}, by {p.request.objective}"))
    title = f"Pareto frontier: {p.request.objective} objective vs tok/s per user ({len(p.frontier)} points)"
    console.print(config_table(thin(p.frontier, FRONTIER_ROWS), title))
    for note in dict.fromkeys((*(p.best.notes if p.best else ()),)):
        console.print(f"[yellow]note[/] {note}")


def _emit_plans(
    plans: Sequence[PlanResult], as_json: bool, csv_path: Path | None, top: int, sims: Sequence[Confirmation] = ()
) -> None:
    if csv_path is not None:
        write_csv(csv_path, [c for p in plans for c in p.ranked])
    if as_json:
        data = [plan_dict(p) for p in plans] if len(plans) > 1 else plan_dict(plans[0])
        print_json({**data, "simulated": sims_json(sims)} if isinstance(data, dict) else data)
        return
    for p in plans:
        print_plan(p, top)
    print_sims(sims)


def sims_json(sims: Sequence[Confirmation]) -> list[dict[str, Any]]:
    return [dict(zip(plan_html.CONFIRM_COLUMNS, row, strict=True)) for row in plan_html.confirm_rows(sims)]


def print_sims(sims: Sequence[Confirmation]) -> None:
    if not sims:
        return
    table = Table(title="Simulator check (closed loop at the planned concurrency; TTFT median)")
    for col in plan_html.CONFIRM_COLUMNS:
        table.add_column(col, no_wrap=col == "system", overflow="fold")
    for row in plan_html.confirm_rows(sims):
        table.add_row(*row)
    console.print(table)


# ------------------------------------------------------------------------------------------ commands


def plan_command(
    system: str = typer.Argument(..., help="system id (modelchip catalog list)"),
    model: str = MODEL,
    workload: str = WORKLOAD,
    isl: float | None = ISL,
    osl: float | None = OSL,
    osl_cv: float | None = OSL_CV,
    slo_ttft: str | None = TTFT,
    slo_tpot: str | None = TPOT,
    p99: bool = P99,
    objective: str = OBJECTIVE,
    max_chips: int | None = MAX_CHIPS,
    price: float | None = PRICE,
    engine: str | None = ENGINE,
    mode: str = MODE,
    backend: str = BACKEND,
    workers: int | None = WORKERS,
    address: str | None = ADDRESS,
    db: Path | None = DB,
    as_json: bool = JSON,
    csv_path: Path | None = CSV,
    report: Path | None = REPORT,
    top: int = TOP,
    simulate: int = SIMULATE,
) -> None:
    """The best deployment of a model on a system under SLOs: ranked table and Pareto frontier."""
    req = PlanRequest(
        model, system, load_workload(workload, isl, osl, osl_cv), make_slo(slo_ttft, slo_tpot, p99), objective,
        make_space(max_chips, engine, mode), price,
    )  # fmt: skip
    with session(backend, workers, address, db, as_json) as ses:
        result = plan(req, ses.run)
    result, sims = confirm_best(result, simulate)
    if report is not None:
        plan_html.write(report, plan_html.render_plan(result, sims))
    _emit_plans([result], as_json, csv_path, top, sims)
    if report is not None and not as_json:
        console.print(f"report written to {report}")
    if result.best is None:
        raise UserError(result.error() or "no configuration")


def compare_command(
    systems: list[str] = typer.Argument(..., help="system ids to compare"),
    model: str = MODEL,
    workload: str = WORKLOAD,
    isl: float | None = ISL,
    osl: float | None = OSL,
    osl_cv: float | None = OSL_CV,
    slo_ttft: str | None = TTFT,
    slo_tpot: str | None = TPOT,
    p99: bool = P99,
    objective: str = OBJECTIVE,
    max_chips: int | None = MAX_CHIPS,
    price: float | None = PRICE,
    engine: str | None = ENGINE,
    mode: str = MODE,
    backend: str = BACKEND,
    workers: int | None = WORKERS,
    address: str | None = ADDRESS,
    db: Path | None = DB,
    as_json: bool = JSON,
    csv_path: Path | None = CSV,
    report: Path | None = REPORT,
    simulate: int = SIMULATE,
) -> None:
    """Systems side by side on the same model, workload and SLO: per chip, system, rack, kW and dollar."""
    base = PlanRequest(
        model, systems[0], load_workload(workload, isl, osl, osl_cv), make_slo(slo_ttft, slo_tpot, p99), objective,
        make_space(max_chips, engine, mode), price,
    )  # fmt: skip
    run_compare(base, systems, backend, workers, address, db, as_json, csv_path, report, simulate)


def run_compare(
    base: PlanRequest, systems: Sequence[str], backend: str, workers: int | None, address: str | None,
    db: Path | None, as_json: bool, csv_path: Path | None, report: Path | None, simulate: int = 2,
) -> CompareResult:  # fmt: skip
    with session(backend, workers, address, db, as_json) as ses:
        result = compare(base, systems, ses.run, ses.on_system)
    confirmed = [confirm_best(p, simulate) for p in result.plans]
    result = with_plans(result, [p for p, _ in confirmed])
    sims = [s for _, plan_sims in confirmed for s in plan_sims]
    if report is not None:
        plan_html.write(report, plan_html.render_compare(result, sims))
    if csv_path is not None:
        write_csv(csv_path, [p.best for p in result.plans if p.best])
    if as_json:
        plans = [plan_dict(p) for p in result.plans]
        print_json({"plans": plans, "wins": [vars(w) for w in result.wins], "simulated": sims_json(sims)})
        return result
    print_compare(result)
    print_sims(sims)
    if report is not None:
        console.print(f"report written to {report}")
    return result


def print_compare(r: CompareResult) -> None:
    req = r.request
    w = req.workload
    spread = f", OSL cv {w.osl_cv:g}" if w.osl_cv else ""
    title = f"{req.model}, {w.name} (ISL {w.isl:g} / OSL {w.osl:g}{spread}), {req.slo.describe()}: best per system"
    table = Table(title=title)
    table.add_column("system", no_wrap=True)
    for o in OBJECTIVES.values():
        table.add_column(o.unit, justify="right")
    table.add_column("best deployment (by tok/s/chip)", overflow="fold")
    for p in r.plans:
        vals = [p.best_by_objective.get(o) for o in OBJECTIVES]
        cells = [
            plan_html.cell_text(OBJECTIVES[o].value(c) if c else None) for o, c in zip(OBJECTIVES, vals, strict=True)
        ]
        best = p.best_by_objective.get("chip")
        name = p.request.system + (f" x{p.systems_used}" if p.systems_used > 1 else "")
        table.add_row(name, *cells, best.describe() if best else (p.error() or ""))
    console.print(table)
    console.rule("Where each wins and why")
    for win in r.wins:
        vs = f" over {win.runner_up} ({win.ratio:.2f}x)" if win.runner_up and win.ratio else ""
        console.print(f"[bold]{OBJECTIVES[win.objective].label}[/]: {win.winner}{vs}: {win.why}", soft_wrap=True)
    for system, err in r.failures():
        console.print(f"[red]{system}[/]: {err}", soft_wrap=True)


def migrate_command(
    source: str = typer.Option(..., "--from", help="the system being replaced"),
    chips: int = typer.Option(..., "--chips", help="chips of the current deployment"),
    targets: list[str] = typer.Option([], "--to", help="candidate systems (repeatable; default: a market set)"),
    model: str = MODEL,
    workload: str = WORKLOAD,
    isl: float | None = ISL,
    osl: float | None = OSL,
    osl_cv: float | None = OSL_CV,
    slo_ttft: str | None = TTFT,
    slo_tpot: str | None = TPOT,
    p99: bool = P99,
    price: float | None = PRICE,
    engine: str | None = ENGINE,
    mode: str = MODE,
    backend: str = BACKEND,
    workers: int | None = WORKERS,
    address: str | None = ADDRESS,
    db: Path | None = DB,
    as_json: bool = JSON,
    csv_path: Path | None = CSV,
    report: Path | None = REPORT,
) -> None:
    """We lose system A: the current throughput under SLO and, per candidate, the chips that match it."""
    base = PlanRequest(
        model, source, load_workload(workload, isl, osl, osl_cv), make_slo(slo_ttft, slo_tpot, p99), "chip",
        make_space(None, engine, mode), price,
    )  # fmt: skip
    with session(backend, workers, address, db, as_json) as ses:
        result = migrate(base, chips, targets or None, ses.run, ses.on_system)
    if report is not None:
        plan_html.write(report, plan_html.render_migrate(result))
    if csv_path is not None:
        _migrate_csv(csv_path, result)
    if as_json:
        print_json(migrate_dict(result))
        return
    print_migrate(result)
    if report is not None:
        console.print(f"report written to {report}")


def _migrate_rows(m: MigrateResult) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for r in m.replacements:
        if r.config is None:
            rows.append([r.system, None, None, None, None, None, r.error or "", ""])
            continue
        cost = round(r.cost_per_hour_usd) if r.cost_per_hour_usd is not None else None
        rows.append([r.system, r.chips, r.systems, round(r.throughput_tokens_per_s), round(r.power_kw, 1), cost,
                     r.config.describe(), "; ".join(r.caveats)])  # fmt: skip
    return rows


MIGRATE_COLUMNS = ["system", "chips", "systems", "tok/s", "kW", "$/h", "deployment", "caveats"]


def _migrate_csv(path: Path, m: MigrateResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(MIGRATE_COLUMNS)
        w.writerows(_migrate_rows(m))


def migrate_dict(m: MigrateResult) -> dict[str, Any]:
    return {
        "source": plan_dict(m.source),
        "source_chips": m.source_chips,
        "source_tokens_per_s": m.source_throughput_tokens_per_s,
        "source_power_kw": m.source_power_kw,
        "source_cost_per_hour_usd": m.source_cost_per_hour_usd,
        "replacements": [dict(zip(MIGRATE_COLUMNS, row, strict=True)) for row in _migrate_rows(m)],
    }


def print_migrate(m: MigrateResult) -> None:
    src, best = m.source, m.source.best
    cost = f", ${m.source_cost_per_hour_usd:,.0f}/h" if m.source_cost_per_hour_usd else ""
    console.print(
        f"[bold]{src.request.system}[/], {m.source_chips} chips: {m.source_throughput_tokens_per_s:,.0f} output tok/s "
        f"under {src.request.slo.describe()} ({best.describe() if best else ''}), {m.source_power_kw:.1f} kW{cost}",
        soft_wrap=True,
    )
    table = Table(
        title=f"What replaces {src.request.system}: chips to match {m.source_throughput_tokens_per_s:,.0f} tok/s"
    )
    for col in MIGRATE_COLUMNS:
        table.add_column(
            col, overflow="fold", justify="right" if col in ("chips", "systems", "tok/s", "kW", "$/h") else "left"
        )
    for row in _migrate_rows(m):
        table.add_row(*(plan_html.cell_text(v) if not isinstance(v, int) else f"{v:,}" for v in row))
    console.print(table)


def sweep_command(
    models: list[str] = typer.Option(["deepseek-ai/DeepSeek-R1"], "--model", help="models (repeatable)"),
    systems: list[str] = typer.Option(..., "--system", help="systems (repeatable)"),
    workloads: list[str] = typer.Option(["chat"], "--workload", help="workloads (repeatable)"),
    slo_ttft: str | None = TTFT,
    slo_tpot: str | None = TPOT,
    p99: bool = P99,
    backend: str = BACKEND,
    workers: int | None = WORKERS,
    address: str | None = ADDRESS,
    db: Path = typer.Option(Path(DEFAULT_DB), "--db", help="SQLite file of evaluations (resumes a stopped sweep)"),
    as_json: bool = JSON,
    csv_path: Path | None = CSV,
) -> None:
    """Plan every model x system x workload; evaluations persist in SQLite so a stopped sweep resumes."""
    slo = make_slo(slo_ttft, slo_tpot, p99)
    plans: list[PlanResult] = []
    with session(backend, workers, address, db, as_json) as ses:
        for model in models:
            for wl in workloads:
                for system in systems:
                    if ses.on_system is not None:
                        ses.on_system(f"{model} / {wl} / {system}")
                    plans.append(plan(PlanRequest(model, system, load_workload(wl, None, None), slo), ses.run))
        counters = ses.run.counters
    if csv_path is not None:
        write_csv(csv_path, [p.best for p in plans if p.best])
    if as_json:
        print_json({"evaluated": counters.evaluated, "reused": counters.reused, "plans": [plan_dict(p) for p in plans]})
        return
    table = config_table(
        [p.best for p in plans if p.best], f"Sweep: best per model x workload x system ({slo.describe()})"
    )
    console.print(table)
    for p in plans:
        if p.best is None:
            console.print(f"[red]{p.request.model} / {p.request.system}[/]: {p.error()}", soft_wrap=True)
    console.print(f"{counters.evaluated} candidates evaluated, {counters.reused} reused from {db}")
