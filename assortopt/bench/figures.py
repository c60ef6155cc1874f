"""The report's figures, drawn with matplotlib's Agg canvas (no display, no global backend
change) into ``OUTPUT_DIR/figures/`` (`FIGURES`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .tables import EXACT, methods_in_order, regret_slopes

__all__ = ["FIGURES", "draw_figures"]

FIGURES = (
    "pct_lp_vs_t.png",
    "regret_vs_t.png",
    "performance_profile.png",
    "long_tail.png",
    "mip_vs_heuristic.png",
)


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
    exact = [
        m for m in methods_in_order(ok) if ok.loc[ok.method == m, "method_name"].iloc[0] in EXACT
    ]
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


def draw_figures(
    ok: pd.DataFrame, methods: list[str], reference: str | None, plans_path: Path, figdir: Path
) -> str | None:
    """Draw every figure of `FIGURES` into ``figdir`` from the evaluated rows ``ok`` and the
    plan records at ``plans_path``; returns the note the MIP figure shows when it has nothing
    to draw (else None)."""
    _fig_pct_and_regret(ok, methods, figdir)
    _fig_profiles(ok, methods, figdir)
    _fig_long_tail(ok, methods, plans_path, figdir)
    return _fig_exact(ok, reference, figdir)
