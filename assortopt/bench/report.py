"""Turn a sweep's results.csv (and plans.jsonl) into report.md: the tables of
`assortopt.bench.tables` as markdown and the figures of `assortopt.bench.figures`."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .figures import draw_figures
from .sequentiality import has_splits, sequentiality_figure, sequentiality_table
from .store import META_JSON, PLANS_JSONL, RESULTS_CSV, read_results
from .tables import (
    exact_table,
    long_tail_table,
    methods_in_order,
    overview,
    pivot_mean_se,
    regret_slopes,
    runtime_table,
    status_table,
    truth_table,
    versus_reference,
)

__all__ = ["write_report"]


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        return f"{x:.{digits}f}"
    return str(x)


def _md(df: pd.DataFrame, digits: int = 2) -> str:
    """A DataFrame as a GitHub markdown table (index included)."""
    if df.empty:
        return "No rows."
    idx_names = [str(n) if n is not None else "" for n in df.index.names]
    head = [*idx_names, *[str(c) for c in df.columns]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for idx, row in zip(df.index, df.itertuples(index=False), strict=True):
        idx = idx if isinstance(idx, tuple) else (idx,)
        cells = [_fmt(i, digits) for i in idx] + [_fmt(v, digits) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(output_dir: str | os.PathLike[str]) -> Path:
    """Write ``OUTPUT_DIR/report.md`` and ``OUTPUT_DIR/figures/*.png`` from a sweep's files.

    Works on a partial sweep too (it reports what is there). Returns the report's path.

    Raises
    ------
    FileNotFoundError
        No results.csv in ``output_dir``.
    """
    out = Path(output_dir)
    if not (out / RESULTS_CSV).exists():
        raise FileNotFoundError(f"{out / RESULTS_CSV}: no results (run the sweep first)")
    meta = json.loads((out / META_JSON).read_text()) if (out / META_JSON).exists() else {}
    df = read_results(out)
    methods = methods_in_order(df)
    ok = df[df.profit_mean.notna() & (df.status != "error")].copy()
    refs = [r for r in df.reference.dropna().unique()]
    ref = refs[0] if refs else None
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    exact_note = draw_figures(ok, methods, ref, out / PLANS_JSONL, figdir)

    n_cells = df.cell.nunique()
    lines = [
        f"# Benchmark report: {meta.get('name', out.name)}",
        "",
        f"Configuration `{meta.get('config', '?')}` (digest `{meta.get('digest', '?')}`): "
        f"{n_cells} cells of {meta.get('cells', '?')} finished, {len(df)} rows, "
        f"methods {', '.join(f'`{m}`' for m in methods)}; reference method `{ref}`.",
        "",
        "Protocol: each cell is one generated instance; every method plans with the cell's seed "
        "(HiGHS one thread), and every plan is evaluated on the same "
        f"{_fmt(df.eval_reps.max(), 0)} fresh seasons (common random numbers). "
        "Values are means over cells ± the simulation standard error of that mean "
        "(sqrt(Σ se²)/n; paired for differences). Gap to best = the cell's best plan's profit "
        "minus this plan's, in % of the LP bound T·LP*.",
        "",
        "## Overview",
        "",
        _md(overview(df, ok, methods)),
        "",
    ]
    status = status_table(df, methods)
    lines += ["Statuses:", "", _md(status), ""]
    by = ["family", "n", "customers", "tail", "alpha", "margin"]
    lines += [
        "## % of the LP bound by instance shape",
        "",
        _md(pivot_mean_se(ok, by, "pct_lp", "pct_lp_se", methods)),
        "",
        "## Gap to the cell's best plan (% of LP bound)",
        "",
    ]
    ok["gap_best_pct_se"] = 100 * ok.gap_best_se / ok.lp_bound
    lines += [_md(pivot_mean_se(ok, by, "gap_best_pct", "gap_best_pct_se", methods)), ""]
    vs = versus_reference(ok, methods, ref)
    lines += [
        f"## Wins and losses against `{ref}` (paired, per cell)",
        "",
        _md(vs) if not vs.empty else "No paired comparisons.",
        "",
    ]
    lines += ["## Exact SAA MIP vs the heuristic", ""]
    ex = exact_table(ok, ref)
    lines += [
        _md(ex) if not ex.empty else (exact_note or "No MIP rows."),
        "",
        "![MIP vs heuristic](figures/mip_vs_heuristic.png)",
        "",
    ]
    lines += [
        "## The long tail",
        "",
        "Tail products: mean first-choice demand T·λ_i < 1. Tail sales share: share of "
        "units sold that are tail products.",
        "",
        _md(long_tail_table(ok, methods)),
        "",
        "![long tail](figures/long_tail.png)",
        "",
    ]
    slopes = regret_slopes(ok)
    lines += [
        "## Regret scaling with T",
        "",
        "OLS slope of log(T·LP* − profit) on log T, one point per cell (the paper's "
        "Õ(√(NT)) bound suggests ≤ 0.5 at fixed N).",
        "",
    ]
    if slopes.empty:
        lines += ["No group with two or more values of T.", ""]
    else:
        sl = slopes.set_index(["family", "n", "tail", "alpha", "margin", "method"])
        lines += [_md(sl[["slope", "slope_se", "points", "dropped", "t_min", "t_max"]], 3), ""]
    lines += [
        "![% of LP vs T](figures/pct_lp_vs_t.png)",
        "",
        "![regret vs T](figures/regret_vs_t.png)",
        "",
    ]
    lines += ["## Performance profiles", "", "![profiles](figures/performance_profile.png)", ""]
    lines += ["## Runtime (mean planning seconds by N)", "", _md(runtime_table(df, methods)), ""]
    if ref is not None and has_splits(df):
        lines += [
            "## The price of sequentiality (vendor splits)",
            "",
            "Cells with products assigned to V vendors: `waves` methods plan vendor by vendor, "
            f"`{ref}` plans jointly; all on the same seasons. Price = (joint − waves) / joint "
            "in %, ± paired se (negative: the waves plan did better); *recovers* = share of the "
            "myopic price the lookahead wins back, where the myopic price exceeds two se.",
            "",
            _md(sequentiality_table(ok, ref)),
            "",
            "![price of sequentiality](figures/sequentiality.png)",
            "",
        ]
        sequentiality_figure(ok, ref, figdir / "sequentiality.png")
    tt = truth_table(ok, methods)
    if not tt.empty:
        lines += ["## Under the ground-truth online model", "", _md(tt), ""]
    err = df[df.status == "error"]
    if not err.empty:
        lines += ["## Errors", ""]
        for _, r in err.head(30).iterrows():
            lines.append(f"- `{r.cell}` `{r.method}`: {r.message}")
        if len(err) > 30:
            lines.append(f"- ... and {len(err) - 30} more")
        lines.append("")
    path = out / "report.md"
    tmp = path.with_name("report.md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    return path
