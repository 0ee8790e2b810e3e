"""Self-contained HTML for `plan`, `compare` and `migrate`: Pareto curves of every system in one inline
SVG chart (matplotlib, Agg), the best config under the SLO, ranked tables and "where each wins".
No scripts, stylesheets or fonts are fetched. The column set (`COLUMNS`) is shared with the CLI's
terminal tables and CSV files."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from modelchip.search.compare import CompareResult
from modelchip.search.config import OBJECTIVES, Config, objective_value
from modelchip.search.confirm import Confirmation
from modelchip.search.migrate import MigrateResult
from modelchip.search.plan import PlanResult

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
.plot svg{max-width:100%;height:auto} .err{color:#a00} .note{color:#555;font-size:13px}
"""


def _n(x: float | None, digits: int = 0) -> str:
    if x is None or x == float("-inf"):
        return "–"
    return f"{x:,.{digits}f}" if abs(x) >= 10 or digits == 0 else f"{x:.3g}"


Column = tuple[str, Callable[[Config], str | float | None]]

COLUMNS: list[Column] = [
    ("system", lambda c: c.system),
    ("mode", lambda c: c.mode),
    ("deployment", lambda c: c.describe()),
    ("batch/inst", lambda c: round(c.concurrency_per_instance, 1)),
    ("TTFT ms", lambda c: round(c.ttft_s * 1e3, 1)),
    ("TPOT ms", lambda c: round(c.tpot_s * 1e3, 2)),
    ("tok/s/user", lambda c: round(c.tokens_per_s_per_user, 1)),
    ("tok/s/chip", lambda c: round(c.tokens_per_s_per_chip, 1)),
    ("tok/s/kW", lambda c: round(objective_value(c, "kw"), 1)),
    ("Mtok/$", lambda c: None if c.price_per_chip_hour_usd is None else round(objective_value(c, "dollar"), 3)),
    ("W/chip", lambda c: round(c.power_w_per_chip)),
    ("HBM used", lambda c: f"{c.memory_used_fraction:.0%}"),
    ("weights GB/dev", lambda c: round(c.weight_bytes_per_device / 1e9, 1)),
    ("prefill bound", lambda c: c.prefill_bound),
    ("decode bound", lambda c: c.decode_bound),
    ("notes", lambda c: "; ".join(c.notes)),
]


def cell_text(v: str | float | None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return _n(v, 0 if abs(v) >= 100 else 2)
    return str(v)


def config_table(configs: Sequence[Config]) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h, _ in COLUMNS) + "</tr>"
    rows = []
    for c in configs:
        cells = []
        for _, get in COLUMNS:
            v = get(c)
            cls = ' class="num"' if isinstance(v, int | float) else ""
            cells.append(f"<td{cls}>{escape(cell_text(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def pareto_svg(plans: Sequence[PlanResult], objective: str, title: str) -> str:
    """Each system's frontier (objective vs tokens/s per user) in one chart; the best under SLO starred."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6))
    ax = fig.add_subplot()
    drawn = False
    for p in plans:
        pts = [(c.tokens_per_s_per_user, objective_value(c, objective)) for c in p.frontier]
        pts = [(x, y) for x, y in pts if y > 0 and y != float("-inf")]
        if not pts:
            continue
        (line,) = ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", ms=3, label=p.request.system)
        best = p.best_by_objective.get(objective)
        if best is not None:
            ax.scatter([best.tokens_per_s_per_user], [objective_value(best, objective)], marker="*", s=160,
                       color=line.get_color(), edgecolors="black", zorder=4)  # fmt: skip
        drawn = True
    if drawn:
        ax.set(xscale="log", yscale="log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no feasible configuration", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="output tokens/s per user (1 / TPOT)", ylabel=OBJECTIVES[objective].label, title=title)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "modelchip"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def confirm_rows(sims: Sequence[Confirmation]) -> list[list[str]]:
    """analytical vs simulated per confirmed config (shared with the terminal table)."""
    rows = []
    for s in sims:
        c = s.config
        rows.append([c.system, c.describe(), f"{c.ttft_s * 1e3:,.0f} / {s.ttft_s * 1e3:,.0f}",
                     f"{c.tpot_s * 1e3:.1f} / {s.tpot_s * 1e3:.1f}",
                     f"{c.tokens_per_s_per_chip:,.0f} / {s.tokens_per_s_per_chip:,.0f}",
                     "yes" if s.meets_slo else "no"])  # fmt: skip
    return rows


CONFIRM_COLUMNS = [
    "system",
    "deployment",
    "TTFT ms model/sim",
    "TPOT ms model/sim",
    "tok/s/chip model/sim",
    "SLO (sim)",
]


def confirm_table(sims: Sequence[Confirmation]) -> str:
    if not sims:
        return ""
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in CONFIRM_COLUMNS) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>" for r in confirm_rows(sims))
    note = (
        "<p class='note'>Closed-loop replay in the discrete-event simulator (serving/) at the planned "
        "concurrency; TTFT median.</p>"
    )
    return f"<h3>Simulator check</h3>{note}<table>{head}{body}</table>"


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def _request_text(p: PlanResult) -> str:
    r = p.request
    w = r.workload
    return (
        f"<p>Model <b>{escape(r.model)}</b>; workload <b>{escape(w.name)}</b> (ISL {w.isl:g}, OSL {w.osl:g}); "
        f"SLO: {escape(r.slo.describe())}; objective: {escape(OBJECTIVES[r.objective].label)}. "
        "Predictions from the analytical model (perf.analytic); star = best under the SLO.</p>"
    )


def _plan_section(p: PlanResult) -> str:
    err = p.error()
    head = (
        f"<h2>{escape(p.request.system)}</h2><p class='note'>{p.candidates} candidates, {p.feasible} fit in memory, "
        f"{p.configs} operating points, budget {p.budget_chips} chips, {p.elapsed_s:.2f} s.</p>"
    )
    if err:
        return head + f'<p class="err">{escape(err)}</p>'
    best = config_table([p.best]) if p.best else ""
    return f"{head}<h3>Best under the SLO</h3>{best}<h3>Ranked</h3>{config_table(p.ranked)}"


def render_plan(p: PlanResult, sims: Sequence[Confirmation] = ()) -> str:
    title = f"modelchip plan: {p.request.model} on {p.request.system}"
    chart = pareto_svg([p], p.request.objective, title)
    return _page(title, f'{_request_text(p)}<div class="plot">{chart}</div>{confirm_table(sims)}{_plan_section(p)}')


def _side_by_side(r: CompareResult) -> str:
    head = "<tr><th>system</th>" + "".join(f"<th>{escape(o.label)}</th>" for o in OBJECTIVES.values()) + "</tr>"
    rows = []
    for p in r.plans:
        cells = "".join(
            f'<td class="num">{_n(objective_value(c, o) if (c := p.best_by_objective.get(o)) else None, 2)}</td>'
            for o in OBJECTIVES
        )
        rows.append(f"<tr><td>{escape(p.request.system)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _wins(r: CompareResult) -> str:
    items = []
    for w in r.wins:
        vs = f" over {escape(w.runner_up)} ({w.ratio:.2f}x)" if w.runner_up and w.ratio else ""
        items.append(
            f"<li><b>{escape(OBJECTIVES[w.objective].label)}</b>: {escape(w.winner)}{vs}: {escape(w.why)}</li>"
        )
    fails = "".join(f'<li class="err">{escape(s)}: {escape(e)}</li>' for s, e in r.failures())
    return f"<ul>{''.join(items)}{fails}</ul>"


def render_compare(r: CompareResult, sims: Sequence[Confirmation] = ()) -> str:
    names = ", ".join(p.request.system for p in r.plans)
    title = f"modelchip compare: {r.request.model} on {names}"
    chart = pareto_svg(r.plans, r.request.objective, f"{r.request.model}: Pareto frontiers")
    body = (
        f"{_request_text(r.plans[0])}<div class='plot'>{chart}</div><h2>Best under the SLO, side by side</h2>"
        f"{_side_by_side(r)}<h2>Where each wins and why</h2>{_wins(r)}{confirm_table(sims)}"
        f"<h2>Best configuration per system</h2>{config_table([p.best for p in r.plans if p.best])}"
        + "".join(_plan_section(p) for p in r.plans)
    )
    return _page(title, body)


def render_migrate(m: MigrateResult) -> str:
    src = m.source
    title = f"modelchip migrate: {src.request.model} from {src.request.system} ({m.source_chips} chips)"
    head = (
        f"{_request_text(src)}<p>Current: <b>{_n(m.source_throughput_tokens_per_s)}</b> output tok/s on "
        f"{m.source_chips} chips, {m.source_power_kw:.1f} kW all-in"
        + (f", ${m.source_cost_per_hour_usd:,.0f}/h" if m.source_cost_per_hour_usd else "")
        + f".</p>{config_table([src.best] if src.best else [])}"
    )
    cols = ["system", "chips", "systems", "tok/s", "kW", "$/h", "deployment", "caveats"]
    rows = []
    for r in m.replacements:
        if r.config is None:
            rows.append(f'<tr><td>{escape(r.system)}</td><td colspan="7" class="err">{escape(r.error or "")}</td></tr>')
            continue
        vals = [r.system, _n(r.chips), _n(r.systems), _n(r.throughput_tokens_per_s), f"{r.power_kw:.1f}",
                _n(r.cost_per_hour_usd), r.config.describe(), "; ".join(r.caveats)]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in vals) + "</tr>")
    table = "<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>" + "".join(rows) + "</table>"
    chart = pareto_svg([src, *[r.plan for r in m.replacements]], src.request.objective, "Pareto frontiers")
    return _page(title, f"{head}<h2>Replacements</h2>{table}<div class='plot'>{chart}</div>")


def write(path: Path, html: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
