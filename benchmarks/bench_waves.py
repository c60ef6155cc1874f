"""The price of sequentiality: buying vendor by vendor against the joint plan, in one run.

Products of generated instances are assigned to V vendors (`assortopt.methods.waves.assign_vendors`:
by category, at random, or by demand rank). For each instance and assignment three plans are
made with the same seed and K scenarios: the joint ``heuristic`` on the whole catalogue,
``waves`` with ``lookahead=none`` (myopic) and ``waves`` with ``lookahead=pooled``. All plans are
evaluated on the SAME simulated seasons (common random numbers, a seed independent of the
planning seed), so the differences are paired. Printed per row: profits as % of the joint plan,
the price of sequentiality (joint − wave, as % of the joint plan, with its paired standard error)
and the share of the myopic loss the lookahead recovers, (pooled − myopic) / (joint − myopic),
when the myopic loss is significant (over two standard errors). ``--joint`` and ``--inner``
choose the joint method and the method planning each wave (both ``heuristic`` by default).

    python benchmarks/bench_waves.py [--sizes 100 300] [--vendors 2 4 8]
        [--by category random rank] [--family cluster] [--scenarios 30] [--eval-reps 2000]
        [--seeds 0] [--output benchmarks/results/waves]

Writes OUTPUT/results.csv (one row per instance × assignment × plan) and OUTPUT/waves.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from assortopt.api import solve
from assortopt.generators import generate
from assortopt.methods.waves import assign_vendors
from assortopt.simulation import paired_difference, simulate

PLANS = (("myopic", {"lookahead": "none"}), ("lookahead", {"lookahead": "pooled"}))


def _with_categories(inst):
    cat = inst.metadata.get("category")
    if inst.category is None and cat is not None:
        return inst.replace(category=tuple(str(c) for c in cat))
    return inst


def run(args: argparse.Namespace) -> pd.DataFrame:
    rows = []
    for n in args.sizes:
        for seed in args.seeds:
            base = _with_categories(generate(args.family, n, n, seed))
            t0 = time.perf_counter()
            joint = solve(base, args.joint, scenarios=args.scenarios, seed=seed, eval_reps=0)
            joint_s = time.perf_counter() - t0
            joint_ev = simulate(base, joint.stock, reps=args.eval_reps, seed=10_000 + seed)
            for by in args.by:
                if by == "category" and base.category is None:
                    continue
                for v in args.vendors:
                    inst = assign_vendors(base, v, by=by, seed=seed)
                    evs = {"joint": joint_ev}
                    rows.append(
                        dict(
                            n=n,
                            seed=seed,
                            by=by,
                            vendors=v,
                            plan="joint",
                            profit=joint_ev.mean,
                            stderr=joint_ev.stderr,
                            plan_s=joint_s,
                            stocked=int((joint.stock > 0).sum()),
                            units=int(joint.stock.sum()),
                        )
                    )
                    for label, params in PLANS:
                        t0 = time.perf_counter()
                        sol = solve(
                            inst,
                            method="waves",
                            scenarios=args.scenarios,
                            seed=seed,
                            params={**params, "inner": args.inner},
                            eval_reps=0,
                        )
                        plan_s = time.perf_counter() - t0
                        ev = simulate(inst, sol.stock, reps=args.eval_reps, seed=10_000 + seed)
                        evs[label] = ev
                        rows.append(
                            dict(
                                n=n,
                                seed=seed,
                                by=by,
                                vendors=v,
                                plan=label,
                                profit=ev.mean,
                                stderr=ev.stderr,
                                plan_s=plan_s,
                                stocked=int((sol.stock > 0).sum()),
                                units=int(sol.stock.sum()),
                            )
                        )
                    price = {}
                    for label in ("myopic", "lookahead"):
                        d, se = paired_difference(evs["joint"], evs[label])
                        price[label] = (d, se)
                        rows.append(
                            dict(
                                n=n,
                                seed=seed,
                                by=by,
                                vendors=v,
                                plan=f"price:{label}",
                                profit=d,
                                stderr=se,
                            )
                        )
                    j = evs["joint"].mean
                    (dm, sm), (dp, sp) = price["myopic"], price["lookahead"]
                    # the recovered share only means something when myopia costs significantly
                    rec = f"{(dm - dp) / dm:6.1%}" if dm > 2 * sm else "   n/a"
                    print(
                        f"N={n:5d} seed={seed} by={by:8s} V={v}: price of sequentiality "
                        f"myopic {100 * dm / j:6.2f}% ± {100 * sm / j:4.2f}, lookahead "
                        f"{100 * dp / j:6.2f}% ± {100 * sp / j:4.2f} of the joint plan; "
                        f"lookahead recovers {rec}",
                        flush=True,
                    )
    return pd.DataFrame(rows)


def figure(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plans = df[df["plan"].isin(["joint", "myopic", "lookahead"])]
    piv = plans.pivot_table(index=["n", "by", "vendors"], columns="plan", values="profit")
    piv = piv.reset_index()
    bys = list(dict.fromkeys(piv["by"]))
    fig, axes = plt.subplots(1, len(bys), figsize=(4.2 * len(bys), 3.8), sharey=True, squeeze=False)
    for ax, by in zip(axes[0], bys, strict=True):
        sub = piv[piv["by"] == by]
        for n, g in sub.groupby("n"):
            for label, style in (("myopic", "--o"), ("lookahead", "-s")):
                ax.plot(g["vendors"], 100 * g[label] / g["joint"], style, label=f"{label}, N={n}")
        ax.axhline(100, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(sub["vendors"].unique()))
        ax.set_xticklabels([str(x) for x in sorted(sub["vendors"].unique())])
        ax.set_xlabel("vendors V")
        ax.set_title(f"products to vendors by {by}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("expected profit, % of the joint plan")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle("Price of sequentiality: waves against the joint heuristic (common seasons)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--vendors", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--by", nargs="+", default=["category", "random", "rank"])
    ap.add_argument("--family", default="cluster")
    ap.add_argument("--scenarios", type=int, default=30)
    ap.add_argument("--eval-reps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--output", default="benchmarks/results/waves")
    ap.add_argument("--joint", default="heuristic", help="method of the joint plan")
    ap.add_argument("--inner", default="heuristic", help="method planning each wave")
    args = ap.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    df = run(args)
    df.to_csv(out / "results.csv", index=False)
    figure(df, out / "waves.png")
    print(f"wrote {out / 'results.csv'} and {out / 'waves.png'} in {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
