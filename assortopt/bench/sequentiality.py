"""The price of sequentiality in a sweep with vendor splits (grid keys ``vendors``/``vendor_by``):
the report's table and figure.

In a cell with V vendors, every ``waves`` method plans vendor by vendor and the reference method
(the joint plan, normally ``heuristic``) plans the whole catalogue; all plans are evaluated on
the same seasons, so ``diff_ref`` (wave − joint) is a paired difference with its standard error.
Per cell, the price of a wave plan is (joint − wave) / joint in %, with the paired standard error
scaled the same way; a group's value is the mean over its cells ± sqrt(Σ se²)/n. The lookahead's
recovered share is (price of the myopic waves − price of the lookahead waves) / price of the
myopic waves, from the group means, shown only where the myopic price exceeds two of its
standard errors (otherwise there is no loss to recover). Myopic = ``lookahead = "none"``; any
other ``waves`` row is a lookahead (the default, ``pooled``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["has_splits", "sequentiality_figure", "sequentiality_table", "wave_methods"]

_BY = ["n", "vendor_by", "vendors"]


def has_splits(df: pd.DataFrame) -> bool:
    """Whether the sweep has cells with a vendor split (and any ``waves`` rows)."""
    return (
        "vendors" in df
        and bool(df.vendors.notna().any())
        and bool((df.method_name == "waves").any())
    )


def _lookahead(options: str) -> str:
    try:
        params = json.loads(options).get("params", {})
    except (TypeError, ValueError):
        params = {}
    return str(params.get("lookahead", "pooled"))


def wave_methods(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(myopic labels, lookahead labels) of the ``waves`` rows, in the configuration's order."""
    w = df[df.method_name == "waves"]
    labels = list(dict.fromkeys(w.method))
    kind = {lab: _lookahead(w.loc[w.method == lab, "options"].iloc[0]) for lab in labels}
    return [m for m in labels if kind[m] == "none"], [m for m in labels if kind[m] != "none"]


def _price_rows(ok: pd.DataFrame, ref: str) -> pd.DataFrame:
    """One row per (cell, wave method): price % and its paired se %, with the grouping keys."""
    joint = ok[ok.method == ref].set_index("cell").profit_mean
    w = ok[(ok.method_name == "waves") & ok.vendors.notna() & ok.diff_ref.notna()].copy()
    w["joint"] = w.cell.map(joint)
    w = w[w.joint.notna() & (w.joint > 0)]
    w["price"] = -100.0 * w.diff_ref / w.joint
    w["price_se"] = 100.0 * w.diff_ref_se.fillna(0.0) / w.joint
    w["vendors"] = w.vendors.astype(int)
    return w


def _mean_se(g: pd.DataFrame) -> tuple[float, float]:
    return float(g.price.mean()), math.sqrt(float((g.price_se**2).sum())) / len(g)


def sequentiality_table(ok: pd.DataFrame, ref: str) -> pd.DataFrame:
    """Rows (N, vendor_by, V): the joint profit, each wave method's price (% of the joint plan,
    ± paired se), the share of the myopic loss each lookahead recovers, and mean plan seconds."""
    w = _price_rows(ok, ref)
    myopic, look = wave_methods(ok)
    joint_rows = ok[(ok.method == ref) & ok.vendors.notna()].copy()
    joint_rows["vendors"] = joint_rows.vendors.astype(int)
    rows = {}
    for key, g in w.groupby(_BY, sort=True):
        j = joint_rows[joint_rows.cell.isin(g.cell.unique())]
        row: dict[str, object] = {
            "cells": int(g.cell.nunique()),
            "joint profit": j.profit_mean.mean(),
        }
        prices = {}
        for lab in myopic + look:
            gm = g[g.method == lab]
            if gm.empty:
                continue
            prices[lab] = _mean_se(gm)
            row[f"{lab} price %"] = f"{prices[lab][0]:.2f} ± {prices[lab][1]:.2f}"
        for lab in look:
            if myopic and myopic[0] in prices and lab in prices:
                pm, sm = prices[myopic[0]]
                row[f"{lab} recovers"] = (
                    f"{100 * (pm - prices[lab][0]) / pm:.0f}%" if pm > 2 * sm else "n/a"
                )
        secs = [j.plan_s.mean()] + [g.loc[g.method == lab, "plan_s"].mean() for lab in prices]
        row["plan s (joint / waves)"] = " / ".join(f"{s:.1f}" for s in secs)
        rows[key] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    if out.empty:
        return out
    out.index = pd.MultiIndex.from_tuples(out.index, names=["N", "vendors by", "V"])
    return out


def sequentiality_figure(ok: pd.DataFrame, ref: str, path: Path) -> None:
    """Price of sequentiality (% of the joint plan, ± 1 paired se) against V, one panel per
    split rule, one line per (wave method, N)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w = _price_rows(ok, ref)
    rules = list(dict.fromkeys(w.vendor_by)) or ["–"]
    fig = Figure(figsize=(4.4 * len(rules), 3.9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(rules), sharey=True, squeeze=False)[0]
    myopic, look = wave_methods(ok)
    ns = sorted(w.n.unique())
    styles = {lab: ("--o" if lab in myopic else "-s") for lab in myopic + look}
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    color = {n: cmap(0.15 + 0.7 * k / max(1, len(ns) - 1)) for k, n in enumerate(ns)}
    lines = [(lab, n) for lab in myopic + look for n in ns]
    for ax, rule in zip(axes, rules, strict=True):
        sub = w[w.vendor_by == rule]
        for k, (lab, n) in enumerate(lines):
            g = sub[(sub.method == lab) & (sub.n == n)]
            if g.empty:
                continue
            pts = [(v, *_mean_se(gv)) for v, gv in g.groupby("vendors", sort=True)]
            v, m, s = (np.array(x, dtype=float) for x in zip(*pts, strict=True))
            shift = 2.0 ** (0.04 * (k - (len(lines) - 1) / 2))  # error bars side by side
            ax.errorbar(
                v * shift, m, yerr=s, fmt=styles[lab], color=color[n], capsize=3, ms=4,
                label=f"{lab}, N={n}",
            )  # fmt: skip
        ax.axhline(0.0, color="k", lw=0.8)
        vs = sorted(sub.vendors.unique())
        if vs:
            ax.set_xscale("log", base=2)
            ax.set_xticks(vs)
            ax.set_xticklabels([str(x) for x in vs])
        ax.set_xlabel("vendors V")
        ax.set_title(f"products to vendors by {rule}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(
        f"price of sequentiality, % of {ref}\n(joint − waves; below 0: waves better)"
    )
    legend: dict[str, object] = {}  # every line once, whichever panel has it
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(lab, h)
    if legend:
        axes[-1].legend(list(legend.values()), list(legend), fontsize=7)
    fig.suptitle("Buying vendor by vendor against the joint plan (paired, common seasons; ± 1 se)")
    fig.savefig(path, dpi=110)
