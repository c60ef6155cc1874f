"""Turn a sweep's results.csv (and plans.jsonl) into report.md with tables and PNG figures.

Every number is a mean over cells with its simulation standard error ``sqrt(Σ se_i²)/n`` (the
instances are fixed; the error is that of the out-of-sample estimates, paired where the column
is a difference). Figures are drawn with matplotlib's Agg canvas (no display, no global backend
change) into ``OUTPUT_DIR/figures/``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .run import META_JSON, PLANS_JSONL, RESULTS_CSV, read_results

__all__ = ["FIGURES", "regret_slopes", "write_report"]

FIGURES = (
    "pct_lp_vs_t.png",
    "regret_vs_t.png",
    "performance_profile.png",
    "long_tail.png",
    "mip_vs_heuristic.png",
)
_INSTANCE = ["family", "n", "customers", "tail", "alpha"]
_EXACT = ("mip", "spill-mip")


# ============================================================================ helpers
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


def _mean_se(values: pd.Series, ses: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "–"
    se = ses.loc[v.index].fillna(0.0)
    return f"{v.mean():.2f} ± {math.sqrt(float((se**2).sum())) / len(v):.2f}"


def _agg_mean_se(
    df: pd.DataFrame, by: list[str], col: str, se_col: str, methods: list[str]
) -> pd.DataFrame:
    """Pivot ``mean ± se`` of ``col`` with rows ``by`` and one column per method."""
    rows = {}
    for key, g in df.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows[key] = {
            m: _mean_se(g.loc[g.method == m, col], g.loc[g.method == m, se_col])
            for m in methods
            if (g.method == m).any()
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if out.empty:
        return out
    out.index = (
        pd.MultiIndex.from_tuples(out.index, names=by)
        if len(by) > 1
        else pd.Index([k[0] for k in out.index], name=by[0])
    )
    return out[[m for m in methods if m in out.columns]].fillna("–")


def regret_slopes(df: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Fitted log-log slope of regret (T·LP* − profit) against T, per method and group.

    One point per cell (seeds are separate points); cells with regret ≤ 0 (the plan is within
    noise of the bound) cannot enter a log and are counted in ``dropped``. The standard error is
    the OLS one (needs 3 points). Groups with fewer than 2 distinct T are left out.
    """
    from scipy.stats import linregress

    by = by if by is not None else ["family", "n", "tail", "alpha", "margin"]
    ok = df[df.profit_mean.notna()]
    rows = []
    for key, g in ok.groupby([*by, "method"], sort=False):
        pos = g[g.regret > 0]
        if pos.customers.nunique() < 2:
            continue
        fit = linregress(np.log(pos.customers.astype(float)), np.log(pos.regret.astype(float)))
        rows.append(
            {
                **dict(zip([*by, "method"], key, strict=True)),
                "slope": float(fit.slope),
                "slope_se": float(fit.stderr) if len(pos) > 2 else float("nan"),
                "intercept": float(fit.intercept),
                "points": len(pos),
                "dropped": len(g) - len(pos),
                "t_min": float(pos.customers.min()),
                "t_max": float(pos.customers.max()),
            }
        )
    return pd.DataFrame(rows)


def _methods(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df.method))


def _figure(ncols: int = 1, nrows: int = 1, w: float = 5.0, h: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w * ncols, h * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def _colors(methods: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(methods)}


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _panels_by_n(ok: pd.DataFrame, limit: int = 4) -> list[int]:
    """Catalogue sizes to draw, preferring those with several T values."""
    ns = sorted(ok.n.unique())
    multi = [n for n in ns if ok.loc[ok.n == n, "customers"].nunique() > 1]
    chosen = multi or ns
    if len(chosen) > limit:
        pick = np.linspace(0, len(chosen) - 1, limit).round().astype(int)
        chosen = [chosen[i] for i in pick]
    return chosen


# ============================================================================ figures
def _fig_pct_and_regret(ok: pd.DataFrame, methods: list[str], figdir: Path) -> None:
    colors = _colors(methods)
    ns = _panels_by_n(ok)
    fig1, ax1 = _figure(len(ns) or 1)
    fig2, ax2 = _figure(len(ns) or 1)
    if not ns:
        _empty(ax1[0], "no evaluated plans")
        _empty(ax2[0], "no evaluated plans")
    for a1, a2, n in zip(ax1, ax2, ns, strict=False):
        sub = ok[ok.n == n]
        slopes = regret_slopes(sub, by=["n"])
        for m in methods:
            g = sub[sub.method == m]
            if g.empty:
                continue
            s = slopes[slopes.method == m] if not slopes.empty else slopes
            label = m
            if not s.empty:
                se = s.slope_se.iloc[0]
                label += f" (slope {s.slope.iloc[0]:.2f}" + (
                    f" ± {se:.2f})" if math.isfinite(se) else ")"
                )
            mean = g.groupby("customers").pct_lp.mean()
            a1.plot(mean.index, mean.to_numpy(), "o-", color=colors[m], label=label)
            pos = g[g.regret > 0]
            if not pos.empty:
                a2.scatter(pos.customers, pos.regret, s=10, alpha=0.4, color=colors[m])
                rm = pos.groupby("customers").regret.mean()
                a2.plot(rm.index, rm.to_numpy(), "o", color=colors[m], label=label)
            if not s.empty:
                tt = np.geomspace(s.t_min.iloc[0], s.t_max.iloc[0], 20)
                a2.plot(
                    tt, np.exp(s.intercept.iloc[0]) * tt ** s.slope.iloc[0], "-", color=colors[m]
                )
        for a in (a1, a2):
            a.set_xscale("log")
            a.set_xlabel("customers T")
            a.set_title(f"N = {n}")
            _legend(a)
        a1.set_ylabel("profit, % of LP bound")
        a2.set_yscale("log")
        a2.set_ylabel("regret T·LP* − profit")
    fig1.suptitle("% of the LP bound vs T (legend: fitted log-log regret slope)")
    fig2.suptitle("regret vs T, log-log, with OLS fits")
    fig1.savefig(figdir / "pct_lp_vs_t.png", dpi=110)
    fig2.savefig(figdir / "regret_vs_t.png", dpi=110)


def _fig_profiles(ok: pd.DataFrame, methods: list[str], figdir: Path) -> None:
    colors = _colors(methods)
    fig, (a, b) = _figure(2)
    if ok.empty:
        _empty(a, "no evaluated plans")
        _empty(b, "no evaluated plans")
        fig.savefig(figdir / "performance_profile.png", dpi=110)
        return
    cells = ok.cell.unique()
    gaps = ok.pivot_table(index="cell", columns="method", values="gap_best_pct")
    gaps = gaps.reindex(cells)
    hi = float(np.nanpercentile(gaps.to_numpy(), 95)) if gaps.notna().any().any() else 1.0
    tau = np.linspace(0.0, max(hi, 1e-6) * 1.05, 200)
    for m in methods:
        if m not in gaps:
            continue
        g = gaps[m].to_numpy()
        frac = [(np.nan_to_num(g, nan=np.inf) <= t).mean() for t in tau]
        a.step(tau, frac, where="post", color=colors[m], label=m)
    a.set_xlabel("gap to the cell's best plan τ (% of LP bound)")
    a.set_ylabel("share of cells within τ")
    a.set_title("profit profile")
    _legend(a)
    times = ok.pivot_table(index="cell", columns="method", values="plan_s").reindex(cells)
    times = times.clip(lower=1e-3)
    ratio = times.div(times.min(axis=1), axis=0)
    top = float(np.nanmax(ratio.to_numpy())) if ratio.notna().any().any() else 2.0
    r = np.geomspace(1.0, max(top, 2.0) * 1.1, 200)
    for m in methods:
        if m not in ratio:
            continue
        g = np.nan_to_num(ratio[m].to_numpy(), nan=np.inf)
        b.step(r, [(g <= x).mean() for x in r], where="post", color=colors[m], label=m)
    b.set_xscale("log")
    b.set_xlabel("planning time / fastest method's time")
    b.set_ylabel("share of cells")
    b.set_title("runtime profile")
    _legend(b)
    fig.savefig(figdir / "performance_profile.png", dpi=110)


def _read_plans(path: Path) -> tuple[dict[str, list[float]], dict[tuple[str, str], Any]]:
    demand: dict[str, list[float]] = {}
    plans: dict[tuple[str, str], Any] = {}
    if not path.exists():
        return demand, plans
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            if "method" in rec:
                plans[(rec["cell"], rec["method"])] = rec
            else:
                demand[rec["cell"]] = rec["demand"]
    return demand, plans


def _fig_long_tail(ok: pd.DataFrame, methods: list[str], plans_path: Path, figdir: Path) -> None:
    colors = _colors(methods)
    demand, plans = _read_plans(plans_path)
    # the largest catalogue, and within it the T closest to N (the long-tail regime)
    groups = sorted(
        {(int(n), float(t)) for n, t in zip(ok.n, ok.customers, strict=True)},
        key=lambda p: (-p[0], abs(math.log(p[1] / p[0]))),
    )
    panels = []
    for n in sorted({n for n, _ in groups}, reverse=True)[:2]:
        panels.append(next(p for p in groups if p[0] == n))
    fig, axes = _figure(max(1, len(panels)))
    if not panels or not plans:
        _empty(axes[0], "no plans recorded")
    for ax, (n, t) in zip(axes, panels, strict=False):
        sub = ok[(ok.n == n) & (ok.customers == t)]
        cells = list(dict.fromkeys(sub.cell))
        dem = [demand[c] for c in cells if c in demand]
        # ranks in about 25 log-spaced bins: mean units per product of each bin
        edges = np.unique(np.geomspace(1, n + 1, 26).astype(np.int64))
        mid = np.sqrt(edges[:-1] * np.maximum(edges[1:] - 1, edges[:-1]))

        def binned(v: np.ndarray, edges: np.ndarray = edges) -> np.ndarray:
            return np.add.reduceat(v, edges[:-1] - 1) / np.diff(edges)

        if dem:
            ax.plot(
                mid,
                binned(np.mean(dem, axis=0)),
                color="0.4",
                ls="--",
                lw=1.5,
                label="mean demand T·λ",
            )
        for m in methods:
            units = np.zeros(n)
            count = 0
            for c in cells:
                rec = plans.get((c, m))
                if rec is None:
                    continue
                np.add.at(units, np.asarray(rec["rank"], dtype=np.int64), rec["units"])
                count += 1
            if count:
                ax.plot(mid, binned(units / count), "o-", ms=3, color=colors[m], lw=1, label=m)
        ax.axhline(1.0, color="0.8", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("product demand rank (log bins)")
        ax.set_ylabel("units stocked per product (mean over cells)")
        ax.set_title(f"N = {n}, T = {t:g} ({len(cells)} cells)")
        _legend(ax)
    fig.suptitle("the long tail: units stocked by demand rank")
    fig.savefig(figdir / "long_tail.png", dpi=110)


def _fig_exact(ok: pd.DataFrame, reference: str | None, figdir: Path) -> str | None:
    """Scatter of the reference (heuristic) vs each exact MIP method, per cell."""
    fig, (ax,) = _figure(1, w=5.5, h=5.0)
    exact = [m for m in _methods(ok) if ok.loc[ok.method == m, "method_name"].iloc[0] in _EXACT]
    note = None
    if reference is None or not exact:
        note = "no exact (MIP) method or no reference method in this sweep"
        _empty(ax, note)
    else:
        x = ok[ok.method == reference].set_index("cell")
        markers = "osD^v"
        lo, hi = np.inf, -np.inf
        for i, m in enumerate(exact):
            y = ok[ok.method == m].set_index("cell")
            common = x.index.intersection(y.index)
            if common.empty:
                continue
            xv, yv = x.loc[common, "pct_lp"], y.loc[common, "pct_lp"]
            ax.errorbar(
                xv,
                yv,
                xerr=x.loc[common, "pct_lp_se"],
                yerr=y.loc[common, "pct_lp_se"],
                fmt=markers[i % 5],
                ms=4,
                alpha=0.7,
                label=f"{m} ({len(common)} cells)",
            )
            lo = min(lo, xv.min(), yv.min())
            hi = max(hi, xv.max(), yv.max())
        if math.isfinite(lo):
            pad = 0.02 * (hi - lo + 1)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--")
        ax.set_xlabel(f"{reference}: % of LP bound")
        ax.set_ylabel("exact SAA MIP: % of LP bound")
        ax.set_title("MIP vs heuristic (out of sample, same customers)")
        _legend(ax)
    fig.savefig(figdir / "mip_vs_heuristic.png", dpi=110)
    return note


# ============================================================================ tables
def _overview(df: pd.DataFrame, ok: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    rows = {}
    for m in methods:
        g, o = df[df.method == m], ok[ok.method == m]
        tied = (o.gap_best <= 2 * o.gap_best_se.fillna(0)).sum()
        rows[m] = {
            "cells": len(g),
            "errors": int((g.status == "error").sum()),
            "% of LP bound": _mean_se(o.pct_lp, o.pct_lp_se),
            "gap to best (% LP)": _mean_se(o.gap_best_pct, o.gap_best_se / o.lp_bound * 100),
            "best": int((o.best_method == m).sum()),
            "best or tied": int(tied),
            "products": o.products.mean(),
            "units": o.units.mean(),
            "plan s (mean)": g.plan_s.mean(),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "method"
    return out


def _versus_reference(ok: pd.DataFrame, methods: list[str], ref: str | None) -> pd.DataFrame:
    rows = {}
    if ref is None:
        return pd.DataFrame()
    for m in methods:
        if m == ref:
            continue
        o = ok[(ok.method == m) & ok.diff_ref.notna()]
        if o.empty:
            continue
        z = o.diff_ref / o.diff_ref_se.replace(0, np.nan)
        same = o.diff_ref_se.fillna(0) == 0
        rows[m] = {
            "cells": len(o),
            "wins (> 2 se)": int((z > 2).sum()),
            "ties": int(((z.abs() <= 2) | (same & (o.diff_ref == 0))).sum()),
            "losses (< −2 se)": int((z < -2).sum()),
            "method − reference (% LP)": _mean_se(
                100 * o.diff_ref / o.lp_bound, 100 * o.diff_ref_se / o.lp_bound
            ),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if not out.empty:
        out.index.name = "method"
    return out


def _exact_table(ok: pd.DataFrame, ref: str | None) -> pd.DataFrame:
    rows = {}
    if ref is None:
        return pd.DataFrame()
    for m in _methods(ok):
        if ok.loc[ok.method == m, "method_name"].iloc[0] not in _EXACT:
            continue
        for (n, t), g in ok[ok.method == m].groupby(["n", "customers"]):
            h = ok[(ok.method == ref) & ok.cell.isin(g.cell)].set_index("cell")
            gi = g.set_index("cell")
            common = gi.index.intersection(h.index)
            if common.empty:
                continue
            gi, h = gi.loc[common], h.loc[common]
            rows[(m, n, t)] = {
                "cells": len(common),
                f"{ref} % LP": _mean_se(h.pct_lp, h.pct_lp_se),
                "MIP % LP": _mean_se(gi.pct_lp, gi.pct_lp_se),
                f"{ref} − MIP (% LP, paired)": _mean_se(
                    -100 * gi.diff_ref / gi.lp_bound, 100 * gi.diff_ref_se / gi.lp_bound
                ),
                "MIP optimal": f"{int((gi.status == 'optimal').sum())}/{len(gi)}",
                "MIP gap (mean)": gi.mip_gap.mean(),
                "MIP s (mean)": gi.plan_s.mean(),
            }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if not out.empty:
        out.index = pd.MultiIndex.from_tuples(out.index, names=["method", "N", "T"])
    return out


def _long_tail_table(ok: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    rows = {}
    for (n, t), g in ok.groupby(["n", "customers"]):
        for m in methods:
            o = g[g.method == m]
            if o.empty:
                continue
            rows[(n, t, m)] = {
                "products": o.products.mean(),
                "tail products": o.tail_products.mean(),
                "units": o.units.mean(),
                "tail units": o.tail_units.mean(),
                "tail sales share": o.tail_sales_share.mean(),
                "fill rate": o.fill_rate.mean(),
                "subst. share": o.substitution_share.mean(),
                "% LP": o.pct_lp.mean(),
            }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if not out.empty:
        out.index = pd.MultiIndex.from_tuples(out.index, names=["N", "T", "method"])
    return out


def _runtime_table(df: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    t = df.pivot_table(index="n", columns="method", values="plan_s", aggfunc="mean")
    t = t[[m for m in methods if m in t.columns]]
    t.index.name = "N"
    return t


def _truth_table(ok: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    tr = ok[ok.truth_mean.notna()] if "truth_mean" in ok else ok.iloc[:0]
    rows = {}
    for m in methods:
        o = tr[tr.method == m]
        if o.empty:
            continue
        rows[m] = {
            "cells": len(o),
            "profit under MC": _mean_se(o.profit_mean, o.profit_se),
            "profit under ground truth": _mean_se(o.truth_mean, o.truth_se),
            "gap to truth-best": _mean_se(o.truth_gap_best, o.truth_gap_best_se),
            "truth-best": int((o.truth_gap_best == 0).sum()),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    if not out.empty:
        out.index.name = "method"
    return out


# ============================================================================ the report
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
    methods = _methods(df)
    ok = df[df.profit_mean.notna() & (df.status != "error")].copy()
    refs = [r for r in df.reference.dropna().unique()]
    ref = refs[0] if refs else None
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    _fig_pct_and_regret(ok, methods, figdir)
    _fig_profiles(ok, methods, figdir)
    _fig_long_tail(ok, methods, out / PLANS_JSONL, figdir)
    exact_note = _fig_exact(ok, ref, figdir)

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
        _md(_overview(df, ok, methods)),
        "",
    ]
    status = pd.crosstab(df.method, df.status).reindex(methods)
    lines += ["Statuses:", "", _md(status), ""]
    by = ["family", "n", "customers", "tail", "alpha", "margin"]
    lines += [
        "## % of the LP bound by instance shape",
        "",
        _md(_agg_mean_se(ok, by, "pct_lp", "pct_lp_se", methods)),
        "",
        "## Gap to the cell's best plan (% of LP bound)",
        "",
    ]
    ok["gap_best_pct_se"] = 100 * ok.gap_best_se / ok.lp_bound
    lines += [_md(_agg_mean_se(ok, by, "gap_best_pct", "gap_best_pct_se", methods)), ""]
    vs = _versus_reference(ok, methods, ref)
    lines += [
        f"## Wins and losses against `{ref}` (paired, per cell)",
        "",
        _md(vs) if not vs.empty else "No paired comparisons.",
        "",
    ]
    lines += ["## Exact SAA MIP vs the heuristic", ""]
    ex = _exact_table(ok, ref)
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
        _md(_long_tail_table(ok, methods)),
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
    lines += ["## Runtime (mean planning seconds by N)", "", _md(_runtime_table(df, methods)), ""]
    tt = _truth_table(ok, methods)
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
