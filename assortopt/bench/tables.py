"""The report's tables, as pandas DataFrames computed from a sweep's rows (`read_results`).

Every "mean ± se" cell is a mean over cells with its simulation standard error
``sqrt(Σ se_i²)/n`` (the instances are fixed; the error is that of the out-of-sample estimates,
paired where the column is a difference), written as text by `mean_se`. ``ok`` below is the
rows with an evaluated plan (``profit_mean`` set, status not ``error``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "EXACT",
    "exact_table",
    "long_tail_table",
    "mean_se",
    "methods_in_order",
    "overview",
    "pivot_mean_se",
    "regret_slopes",
    "runtime_table",
    "status_table",
    "truth_table",
    "versus_reference",
]

#: Method names whose rows are exact SAA MIP solves (the "MIP vs heuristic" table and figure).
EXACT = ("mip", "spill-mip")


def mean_se(values: pd.Series, ses: pd.Series) -> str:
    """``"mean ± se"`` of ``values`` (missing values dropped; a missing se counts as 0)."""
    v = values.dropna()
    if v.empty:
        return "–"
    se = ses.loc[v.index].fillna(0.0)
    return f"{v.mean():.2f} ± {math.sqrt(float((se**2).sum())) / len(v):.2f}"


def pivot_mean_se(
    df: pd.DataFrame, by: list[str], col: str, se_col: str, methods: list[str]
) -> pd.DataFrame:
    """Pivot ``mean ± se`` of ``col`` with rows ``by`` and one column per method."""
    rows = {}
    for key, g in df.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows[key] = {
            m: mean_se(g.loc[g.method == m, col], g.loc[g.method == m, se_col])
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


def methods_in_order(df: pd.DataFrame) -> list[str]:
    """Method labels in order of first appearance (the configuration's order)."""
    return list(dict.fromkeys(df.method))


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


def _frame(rows: dict, names: list[str]) -> pd.DataFrame:
    """A table from ``{key: {column: value}}``, its index named ``names`` (tuple keys for
    several names)."""
    out = pd.DataFrame.from_dict(rows, orient="index")
    if not out.empty:
        if len(names) > 1:
            out.index = pd.MultiIndex.from_tuples(out.index, names=names)
        else:
            out.index.name = names[0]
    return out


def status_table(df: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Rows per method and status (methods in sweep order)."""
    return pd.crosstab(df.method, df.status).reindex(methods)


def overview(df: pd.DataFrame, ok: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per method: cells, errors, % of LP bound, gap to the cell's best plan (% LP), cells where
    it is best and best or tied (gap ≤ 2 se), mean products, units and planning seconds."""
    rows = {}
    for m in methods:
        g, o = df[df.method == m], ok[ok.method == m]
        tied = (o.gap_best <= 2 * o.gap_best_se.fillna(0)).sum()
        rows[m] = {
            "cells": len(g),
            "errors": int((g.status == "error").sum()),
            "% of LP bound": mean_se(o.pct_lp, o.pct_lp_se),
            "gap to best (% LP)": mean_se(o.gap_best_pct, o.gap_best_se / o.lp_bound * 100),
            "best": int((o.best_method == m).sum()),
            "best or tied": int(tied),
            "products": o.products.mean(),
            "units": o.units.mean(),
            "plan s (mean)": g.plan_s.mean(),
        }
    return _frame(rows, ["method"])


def versus_reference(ok: pd.DataFrame, methods: list[str], ref: str | None) -> pd.DataFrame:
    """Per method other than ``ref``: paired wins (z > 2), ties (|z| ≤ 2, or an exact 0 with
    se 0) and losses (z < −2) against ``ref``, and the mean difference in % of the LP bound."""
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
            "method − reference (% LP)": mean_se(
                100 * o.diff_ref / o.lp_bound, 100 * o.diff_ref_se / o.lp_bound
            ),
        }
    return _frame(rows, ["method"])


def exact_table(ok: pd.DataFrame, ref: str | None) -> pd.DataFrame:
    """Per exact MIP method (`EXACT`) and (N, T): ``ref`` vs the MIP in % of the LP bound on
    the cells both have, their paired difference, optimal count, mean MIP gap and seconds."""
    rows = {}
    if ref is None:
        return pd.DataFrame()
    for m in methods_in_order(ok):
        if ok.loc[ok.method == m, "method_name"].iloc[0] not in EXACT:
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
                f"{ref} % LP": mean_se(h.pct_lp, h.pct_lp_se),
                "MIP % LP": mean_se(gi.pct_lp, gi.pct_lp_se),
                f"{ref} − MIP (% LP, paired)": mean_se(
                    -100 * gi.diff_ref / gi.lp_bound, 100 * gi.diff_ref_se / gi.lp_bound
                ),
                "MIP optimal": f"{int((gi.status == 'optimal').sum())}/{len(gi)}",
                "MIP gap (mean)": gi.mip_gap.mean(),
                "MIP s (mean)": gi.plan_s.mean(),
            }
    return _frame(rows, ["method", "N", "T"])


def long_tail_table(ok: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per (N, T, method): mean products, tail products, units, tail units, tail sales share,
    fill rate, substitution share and % of the LP bound."""
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
    return _frame(rows, ["N", "T", "method"])


def runtime_table(df: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Mean planning seconds, rows N, one column per method (error rows included)."""
    t = df.pivot_table(index="n", columns="method", values="plan_s", aggfunc="mean")
    t = t[[m for m in methods if m in t.columns]]
    t.index.name = "N"
    return t


def truth_table(ok: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per method, on the cells evaluated under a ground truth (online family): profit under
    the Markov chain and under the truth, gap to the truth-best plan, truth-best count."""
    tr = ok[ok.truth_mean.notna()] if "truth_mean" in ok else ok.iloc[:0]
    rows = {}
    for m in methods:
        o = tr[tr.method == m]
        if o.empty:
            continue
        rows[m] = {
            "cells": len(o),
            "profit under MC": mean_se(o.profit_mean, o.profit_se),
            "profit under ground truth": mean_se(o.truth_mean, o.truth_se),
            "gap to truth-best": mean_se(o.truth_gap_best, o.truth_gap_best_se),
            "truth-best": int((o.truth_gap_best == 0).sum()),
        }
    return _frame(rows, ["method"])
