"""Summary of a true-model sweep (``benchmarks/truth.toml``, issue 17): how much of the best plan
under the truth each chain-based method reaches, by model and size, and how that relates to the
chain's approximation error.

Reads ``results.csv`` and ``config.toml`` of one or more results directories, regenerates each
cell's instance (seeded, so identical) for its approximation error (max and mean |P(j|S) error of
the Blanchet-Gallego-Goyal chain on 20 random offer sets), and writes ``truth_summary.md`` and
``figures/truth_pct_best.png`` into ``--output`` (default: the one results directory). Given
several directories (N = 20 … 1,000), the table and figure cover all of them.

    python benchmarks/truth_summary.py benchmarks/results/truth
    python benchmarks/truth_summary.py benchmarks/results/truth benchmarks/results/truth-300 \
        benchmarks/results/truth-1000 --output benchmarks/results/truth-1000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from assortopt.bench.config import load_config  # noqa: E402
from assortopt.truth_families import generate_truth  # noqa: E402


def markdown(df: pd.DataFrame) -> str:
    """A pipe table (no extra dependency)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = [
        "| " + " | ".join("" if pd.isna(x) else str(x) for x in row) + " |" for row in df.values
    ]
    return "\n".join([head, rule, *body])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("--output", type=Path, help="where to write (default: the one results dir)")
    a = ap.parse_args()
    if a.output is None and len(a.results) > 1:
        ap.error("--output is needed with several results directories")
    out = a.output or a.results[0]
    df = pd.concat([pd.read_csv(r / "results.csv") for r in a.results], ignore_index=True)
    cells = {c.key: c for r in a.results for c in load_config(r / "config.toml").cells()}
    err = {}
    for key in df.cell.unique():
        c = cells[key]
        inst, _ = generate_truth(c.family, c.n, c.customers, c.seed, **c.generator_kwargs())
        err[key] = inst.metadata["approximation_error"]
    df["approx_max"] = df.cell.map(lambda k: err[k]["max_abs"])
    df["approx_mean"] = df.cell.map(lambda k: err[k]["mean_abs"])
    ok = df[df.truth_mean.notna()].copy()
    best = ok.groupby("cell").truth_mean.max()
    ok["pct_best"] = 100.0 * ok.truth_mean / ok.cell.map(best)
    methods = list(dict.fromkeys(df.method))
    table = (
        ok.pivot_table(index=["family", "n", "customers"], columns="method", values="pct_best")
        .reindex(columns=methods)
        .round(1)
    )
    errs = ok.groupby(["family", "n", "customers"])[["approx_max", "approx_mean"]].mean()
    table = table.join(errs.map(lambda x: f"{x:.1e}"))
    runs = df.groupby("method").apply(
        lambda g: int((g.status == "error").sum()), include_groups=False
    )
    sources = ", ".join(f"`{r}`" for r in a.results)
    lines = [
        "# Plans made on the chain, judged under the true model",
        "",
        f"Sweeps: {sources} (`python benchmarks/truth_summary.py` on them).",
        "",
        "Each entry: mean over seeds of the plan's profit under the true model as a percentage of "
        "the best plan under the truth in that cell (all plans evaluated on the same true "
        "customers). `approx_max` / `approx_mean`: the BGG chain's max / mean |P(j|S) error on "
        "20 random offer sets. Missing entries: the method failed in that cell (errors per "
        f"method: {', '.join(f'{m} {runs.get(m, 0)}' for m in methods)}).",
        "",
        markdown(table.reset_index()),
        "",
        "![heuristic vs approximation error](figures/truth_pct_best.png)",
        "",
    ]
    (out / "truth_summary.md").write_text("\n".join(lines))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    h = ok[ok.method == "heuristic"]
    for fam, g in h.groupby("family"):
        pts = ax.scatter(g.approx_max, g.pct_best, label=fam, s=18 + g.n / 8, alpha=0.8)
        for t_ratio, marker in ((1.0, "o-"), (10.0, "s--")):
            gt = g[(g.customers / g.n).round(1) == t_ratio].groupby("n").pct_best.mean()
            if len(gt):
                bx.plot(gt.index, gt.values, marker, color=pts.get_facecolor()[0],
                        label=f"{fam}, T = {t_ratio:g}·N")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("chain's max |P(j|S) error| on random offer sets")
    ax.set_ylabel("heuristic on the chain, % of best under truth")
    ax.set_title("against the chain's error (marker size: N)")
    ax.legend(fontsize=8)
    bx.set_xscale("log")
    sizes = sorted(h.n.unique())
    bx.set_xticks(sizes, [f"{x:,}" for x in sizes])
    bx.minorticks_off()
    bx.set_xlabel("catalogue size N")
    bx.set_title("by size (mean over seeds)")
    bx.legend(fontsize=7)
    for axis in (ax, bx):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    (out / "figures").mkdir(exist_ok=True)
    fig.savefig(out / "figures" / "truth_pct_best.png", dpi=120)
    print(out / "truth_summary.md")


if __name__ == "__main__":
    main()
