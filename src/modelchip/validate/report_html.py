"""A self-contained HTML accuracy report: inline SVG scatter, statistics tables, per-case table.

No scripts, stylesheets or fonts are fetched: the plot is matplotlib's SVG embedded in the page and
all styling is inline, so the file can be mailed or archived as it is.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from modelchip.validate.runner import CaseResult
from modelchip.validate.summary import Stats, ValidationSummary

# A URL with a scheme, or a bare host with a common TLD ("github.com/owner/repo"); a trailing
# punctuation mark is not part of it.
_URL = re.compile(
    r"(?:https?://)?(?:[A-Za-z0-9-]+\.)+(?:com|org|io|ai|net|cn|dev|edu|gov)\b"
    r"(?:/[^\s<>\"']*[^\s<>\"'.,;:)\]])?/?",
    re.IGNORECASE,
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{background:#d8f0d8} .fair{background:#fbeec2} .bad{background:#f6d0d0} .na{color:#888}
.plot svg{max-width:100%;height:auto}
"""


def band_class(error: float | None) -> str:
    """CSS class of an error: within ±15% good, within ±30% fair, else bad; None -> na."""
    if error is None:
        return "na"
    if abs(error) <= 0.15 + 1e-9:
        return "good"
    return "fair" if abs(error) <= 0.30 + 1e-9 else "bad"


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def link_source(source: str) -> str:
    """The source as escaped HTML, each URL in it turned into a link (https:// added when bare)."""
    parts: list[str] = []
    last = 0
    for m in _URL.finditer(source):
        url = m.group(0)
        href = url if url.lower().startswith(("http://", "https://")) else f"https://{url}"
        parts.append(escape(source[last : m.start()]))
        parts.append(f'<a href="{escape(href)}" rel="noreferrer">{escape(url)}</a>')
        last = m.end()
    parts.append(escape(source[last:]))
    return "".join(parts)


# ------------------------------------------------------------------------------------------ plot


def _band_guides(ax: Any, lo: float, hi: float) -> None:
    x = np.geomspace(lo, hi, 200)
    ax.fill_between(x, x * 0.70, x * 1.30, color="#f2c14e", alpha=0.35, lw=0, label="±30%")
    ax.fill_between(x, x * 0.85, x * 1.15, color="#4caf50", alpha=0.35, lw=0, label="±15%")
    ax.plot(x, x, color="black", lw=1, label="y = x")


def _draw_points(ax: Any, ok: Sequence[CaseResult]) -> tuple[list[Any], list[Any]]:
    """Colour by hardware, marker by metric; returns legend handles (hardware, metric)."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    hardware = sorted({r.hardware for r in ok})
    metrics = sorted({r.metric for r in ok})
    cmap = colormaps["tab20" if len(hardware) > 10 else "tab10"]
    colour = {h: cmap(i % cmap.N) for i, h in enumerate(hardware)}
    marker = {m: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(metrics)}
    for r in ok:
        ax.scatter(
            r.measured,
            r.predicted,
            color=colour[r.hardware],
            marker=marker[r.metric],
            s=28,
            edgecolors="black",
            linewidths=0.4,
            zorder=3,
        )
    hw = [Line2D([], [], ls="", marker="o", color=colour[h], label=h) for h in hardware]
    mt = [Line2D([], [], ls="", marker=marker[m], color="grey", label=m) for m in metrics]
    return hw, mt


def scatter_svg(results: Sequence[CaseResult], title: str) -> str:
    """Log-log predicted vs measured with the y=x line and ±15%/±30% bands, as an <svg> string."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ok = [r for r in results if r.ok and r.predicted is not None]
    fig = Figure(figsize=(9, 6.5))
    ax = fig.add_subplot()
    if ok:
        values = [v for r in ok for v in (r.measured, r.predicted) if v is not None]
        lo, hi = min(values) / 1.5, max(values) * 1.5
        _band_guides(ax, lo, hi)
        hw, mt = _draw_points(ax, ok)
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))
        first = ax.legend(handles=hw, title="hardware", loc="upper left", fontsize=8)
        ax.add_artist(first)
        ax.legend(handles=mt, title="metric", loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no supported cases", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="measured (metric's unit)", ylabel="predicted (same unit)", title=title)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "modelchip"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: not valid inside HTML


# ------------------------------------------------------------------------------------------ tables


def _stats_cells(s: Stats) -> str:
    cells = [
        str(s.n),
        str(s.unsupported),
        _pct(s.median_abs_error),
        _pct(s.p90_abs_error),
        _pct(s.within_15),
        _pct(s.within_30),
        _pct(s.mean_error, signed=True),
    ]
    return "".join(f'<td class="num">{c}</td>' for c in cells)


def stats_table(heading: str, rows: dict[str, Stats]) -> str:
    head = (
        f"<tr><th>{escape(heading)}</th><th>n</th><th>unsupported</th><th>median |err|</th>"
        "<th>p90 |err|</th><th>within ±15%</th><th>within ±30%</th><th>mean err</th></tr>"
    )
    body = "".join(f"<tr><td>{escape(name)}</td>{_stats_cells(s)}</tr>" for name, s in rows.items())
    return f"<table>{head}{body}</table>"


def _case_row(r: CaseResult) -> str:
    cls = band_class(r.error)
    text = [r.id, r.hardware, r.model, r.metric, r.mode, r.engine, r.trust]
    cells = "".join(f"<td>{escape(t)}</td>" for t in text)
    nums = (
        f'<td class="num">{_num(r.predicted)}</td><td class="num">{_num(r.measured)}</td>'
        f'<td class="num {cls}">{_pct(r.error, signed=True) if r.ok else "unsupported"}</td>'
        f'<td class="num">{"" if r.load is None else f"{r.load:.2f}"}</td>'
    )
    return f'<tr id="case-{escape(r.id)}">{cells}{nums}<td>{link_source(r.source)}</td></tr>'


def cases_table(results: Sequence[CaseResult]) -> str:
    cols = [
        "id",
        "hardware",
        "model",
        "metric",
        "mode",
        "engine",
        "trust",
        "predicted",
        "measured",
        "error",
        "load",
        "source",
    ]
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    return f"<table>{head}{''.join(_case_row(r) for r in results)}</table>"


def _unsupported_list(summary: ValidationSummary) -> str:
    if not summary.unsupported:
        return "<p>None: every case was predicted.</p>"
    items = "".join(f"<li><b>{escape(u.id)}</b>: {escape(u.reason)}</li>" for u in summary.unsupported)
    return f"<ul>{items}</ul>"


def render_html(summary: ValidationSummary, results: Sequence[CaseResult], title: str) -> str:
    """The whole report page as a string."""
    overall = stats_table("set", {"all supported cases": summary.overall})
    grouped = "".join(f"<h3>By {escape(key)}</h3>{stats_table(key, table)}" for key, table in summary.groups.items())
    counts = (
        f"<p>{summary.n_cases} cases: {summary.n_supported} predicted, "
        f"{summary.n_unsupported} unsupported. error = (predicted − measured) / measured.</p>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>{counts}"
        f'<div class="plot">{scatter_svg(results, title)}</div>'
        f"<h2>Overall</h2>{overall}<h2>Grouped</h2>{grouped}"
        f"<h2>Cases</h2>{cases_table(results)}"
        f"<h2>Unsupported</h2>{_unsupported_list(summary)}</body></html>\n"
    )


def write_html_report(
    summary: ValidationSummary,
    results: Sequence[CaseResult],
    path: Path,
    title: str = "modelchip validation report",
) -> None:
    """Write one self-contained HTML file (no network access needed to view it)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(summary, results, title), encoding="utf-8")
