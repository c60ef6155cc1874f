"""The report page: summary numbers, three figures and the product table."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..instance import Instance
from ..planner import PlanDetail, plan_detail

__all__ = ["FIGURES", "summary_numbers", "write_report"]

#: Column headers of the page's product table.
HEADERS = {
    "first_choice_demand": "first-choice demand",
    "expected_sales": "expected sales",
    "sell_through": "sell-through",
    "stockout_probability": "stock-out probability",
    "substitution_in": "substitution in",
    "substitution_out": "substitution out",
    "lost_first_choice": "lost first choices",
    "expected_leftover": "expected leftover",
}

#: File names of the figures, in page order.
FIGURES = ("long_tail.png", "substitution.png", "profit.png")


def summary_numbers(
    inst: Instance, detail: PlanDetail, solution: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(label, formatted value) pairs for the summary table."""
    t = detail.table
    q = t["units"].to_numpy()
    p = detail.profits
    want = float(t["first_choice_demand"].sum())
    sold = float(t["expected_sales"].sum())
    carried = q > 0
    rows = [
        ("Products in the catalogue", f"{inst.n:,}"),
        ("Products carried", f"{int(carried.sum()):,}"),
        ("Units bought", f"{int(q.sum()):,}"),
        ("Purchase cost", f"{float(inst.cost @ q):,.2f}"),
        (
            "Expected profit per season (these seasons)",
            f"{detail.mean:,.2f} ± {detail.stderr:,.2f}",
        ),
        (
            "Season profit, 5th to 95th percentile",
            f"{np.percentile(p, 5):,.2f} to {np.percentile(p, 95):,.2f}",
        ),
        ("Probability of a loss", f"{float((p < 0).mean()):.1%}"),
        ("Customers per season (mean)", f"{float(inst.customers_mean):,.1f}"),
        ("Customers who want a product", f"{want:,.1f}"),
        (
            "Expected units sold",
            f"{sold:,.1f} ({sold / want:.1%} of first choices)" if want > 0 else f"{sold:,.1f}",
        ),
        ("Sales to substituting customers", f"{float(t['substitution_in'].sum()):,.1f}"),
        ("Sell-through of carried units", f"{sold / max(int(q.sum()), 1):.1%}"),
    ]
    if inst.budget is not None:
        rows.append(("Budget", f"{inst.budget:,.2f}"))
    if inst.max_products is not None:
        rows.append(("Max products", f"{inst.max_products:,}"))
    if solution:
        if solution.get("method"):
            rows.insert(0, ("Method", html.escape(str(solution["method"]))))
        ev = solution.get("evaluation")
        if isinstance(ev, dict) and ev.get("mean") is not None:
            rows.insert(
                5 + ("method" in solution),
                (
                    "Expected profit in the solution file",
                    f"{float(ev['mean']):,.2f} ± {float(ev.get('stderr') or 0):,.2f} "
                    f"({int(ev.get('reps', 0)):,} seasons, seed {ev.get('seed')})",
                ),
            )
        if solution.get("lp_bound") is not None:
            b = float(solution["lp_bound"])
            rows.append(
                (
                    "LP upper bound on expected profit",
                    f"{b:,.2f} (plan reaches {detail.mean / b:.1%})" if b > 0 else f"{b:,.2f}",
                )
            )
    rows.append(("Seasons simulated (seed)", f"{detail.reps:,} ({detail.seed})"))
    return rows


def _figures(detail: PlanDetail, out: Path, top_flows: int = 15) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = detail.table.sort_values("first_choice_demand", ascending=False, kind="stable")
    rank = np.arange(1, len(t) + 1)
    dem = t["first_choice_demand"].to_numpy()
    units = t["units"].to_numpy()
    sales = t["expected_sales"].to_numpy()
    fig, ax = plt.subplots(figsize=(9, 4.8))
    ok = dem > 0
    ax.plot(rank[ok], dem[ok], color="0.45", lw=1.5, label="first-choice demand (T·λ)")
    ax.scatter(
        rank[units > 0], units[units > 0], s=16, color="tab:blue", label="units bought", zorder=3
    )
    ax.scatter(
        rank[sales > 0],
        sales[sales > 0],
        s=12,
        marker="x",
        color="tab:orange",
        label="expected sales (own and substitute customers)",
        zorder=3,
    )
    out_rank = rank[units == 0]
    if len(out_rank):
        ax.scatter(
            out_rank,
            np.zeros(len(out_rank)),
            marker="|",
            s=60,
            color="tab:red",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label=f"not carried ({len(out_rank)} products)",
        )
    ax.set_yscale("log")
    if len(t) > 30:
        ax.set_xscale("log")
    ax.set_xlabel("product rank by first-choice demand (1 = most wanted)")
    ax.set_ylabel("units per season (log scale)")
    ax.set_title("The long tail: what customers want first, what is bought, what sells")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / FIGURES[0], dpi=110)
    plt.close(fig)

    f = detail.flows.head(top_flows).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.35 * len(f) + 1.2)))
    if len(f):
        labels = [f"{a} → {b}" for a, b in zip(f["from"], f["to"], strict=True)]
        ax.barh(labels, f["per_season"], color="tab:green")
        ax.set_xlabel("customers per season (first choice → bought instead)")
    else:
        ax.text(
            0.5,
            0.5,
            "no substitution in the simulated seasons",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_yticks([])
    ax.set_title(f"Largest substitution flows (top {min(top_flows, len(detail.flows))})")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(out / FIGURES[1], dpi=110)
    plt.close(fig)

    p = detail.profits
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.hist(p, bins=min(60, max(10, len(np.unique(p)))), color="tab:purple", alpha=0.8)
    for val, style, lab in (
        (p.mean(), "-", f"mean {p.mean():,.1f}"),
        (np.percentile(p, 5), "--", f"5th percentile {np.percentile(p, 5):,.1f}"),
        (np.percentile(p, 95), ":", f"95th percentile {np.percentile(p, 95):,.1f}"),
    ):
        ax.axvline(val, color="k", ls=style, lw=1.2, label=lab)
    ax.set_xlabel("profit in one season")
    ax.set_ylabel("simulated seasons")
    ax.set_title(f"Season profit over {len(p):,} simulated seasons")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / FIGURES[2], dpi=110)
    plt.close(fig)


def _fmt_table(t: pd.DataFrame, rows: int) -> str:
    show = t.sort_values(["units", "first_choice_demand"], ascending=False, kind="stable").head(
        rows
    )
    show = show.dropna(axis=1, how="all")
    fmt = {c: "{:,.2f}".format for c in show.columns if show[c].dtype.kind == "f"}
    for c in ("sell_through", "stockout_probability"):
        if c in show:
            fmt[c] = lambda x: "" if pd.isna(x) else f"{x:.0%}"
    show = show.rename(columns={c: HEADERS.get(c, c) for c in show.columns})
    fmt = {HEADERS.get(c, c): f for c, f in fmt.items()}
    return show.to_html(index=False, formatters=fmt, na_rep="", border=0, classes="products")


def write_report(
    inst: Instance,
    stock: Any,
    out_dir: str | Path,
    *,
    reps: int = 2000,
    seed: int = 1,
    solution: dict[str, Any] | None = None,
    table_rows: int = 50,
) -> Path:
    """Write ``out_dir/report.html``, its PNG figures and ``products.csv``; returns the page.

    ``solution``: the solution file's dict (method, LP bound) for the summary; ``reps`` seasons
    from ``seed`` are simulated (`plan_detail`); the page lists the ``table_rows`` largest
    products (all rows are in ``products.csv``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    detail = plan_detail(inst, stock, reps=reps, seed=seed)
    _figures(detail, out)
    detail.table.to_csv(out / "products.csv", index=False)
    name = html.escape(inst.name or "instance")
    summary = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>"
        for k, v in summary_numbers(inst, detail, solution)
    )
    figs = "\n".join(f'<p><img src="{f}" alt="{f[:-4]}"></p>' for f in FIGURES)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Plan for {name}</title>
<style>
body {{ font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
table.summary th {{ text-align: left; font-weight: normal; color: #555; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Plan for {name}</h1>
<h2>Summary</h2>
<table class="summary">
{summary}
</table>
<h2>Figures</h2>
{figs}
<h2>Products (largest {min(table_rows, inst.n)} of {inst.n}; all in
<a href="products.csv">products.csv</a>)</h2>
<p>Per season on average. Sell-through = expected sales / units; stock-out probability = chance
the product sells out; substitution in = sales to customers who first wanted another product;
substitution out = its first-choice customers who bought another product; lost = its
first-choice customers who bought nothing.</p>
{_fmt_table(detail.table, table_rows)}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
