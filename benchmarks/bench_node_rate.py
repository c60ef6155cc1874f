"""Node rate of the stock branch-and-bound (models/stock_bnb.md §4): this checkout against another.

Run: ``python benchmarks/bench_node_rate.py --old DIR [--limit 60] [--at 20]`` (DIR: a checkout
of the older code, e.g. ``git worktree add /tmp/old a02997a``).

1. Per family (dense, mnl, sparse; ``generate(family, 10, 50, seed=1)``, K = 50, seed 1),
   method ``mip`` with ``formulation=bnb``, ``start=none``, ``threads=1``, one ``--limit`` s run
   of the old and then of this checkout, back to back, each in its own process (PYTHONPATH set
   to the checkout; kernels compiled by a 1 s call first). The search's progress lines
   (``--verbose``, about every 2 s) give nodes, nodes/s, bound and gap at the line nearest
   ``--at`` s; the plan gives them at the end. Read the ratio new/old of one run: the machine
   is shared.
2. This checkout only: CPU time of the first 20,000 nodes of ``solve_stock_bnb`` (dense seed 1,
   no warm start) with the sales tables carried to both children, to ``q_j ≤ s`` only, or to
   neither (``reuse_sales`` = True / "lo" / False): the same search, so only the time differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys
import assortopt
print(assortopt.__file__)
from assortopt.generators import generate
from assortopt.methods.base import PlanRequest, get_method
from assortopt.solver import SolverOptions
fam, limit = sys.argv[1], float(sys.argv[2])
inst = generate(fam, 10, 50, seed=1)
mip = get_method("mip")
def req(lim, verbose):
    return PlanRequest(scenarios=50, seed=1, params={"formulation": "bnb", "start": "none"},
                       options=SolverOptions(threads=1, time_limit=lim, verbose=verbose))
mip(inst, req(1.0, False))
p = mip(inst, req(limit, True))
print(json.dumps({"status": p.status, "objective": p.objective, "bound": p.bound,
                  "gap": p.gap, "nodes": p.extra.get("nodes"), "solve_s": p.extra.get("solve_s")}))
"""

REUSE = r"""
import json, sys, time
from assortopt.generators import generate
from assortopt.models.stock_bnb import solve_stock_bnb
from assortopt.sampling import sample_streams
inst = generate("dense", 10, 50, seed=1)
st = sample_streams(inst, 50, 1)
solve_stock_bnb(inst, st, max_nodes=50)
for mode in (True, "lo", False):
    t = time.process_time()
    r = solve_stock_bnb(inst, st, max_nodes=20000, reuse_sales=mode)
    c = time.process_time() - t
    print(json.dumps({"mode": mode, "nodes": r.nodes, "cpu_s": c, "bound": r.bound,
                      "runs": r.extra["runs"]}), flush=True)
"""

PROGRESS = re.compile(r"bnb: (\d+) nodes, \d+ open, best (\S+), bound (\S+), ([\d.]+)s")


def run(checkout: Path, fam: str, limit: float) -> tuple[dict, tuple | None]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, fam, str(limit)],
        env=env, capture_output=True, text=True, check=True, cwd=checkout,
    )  # fmt: skip
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["module"] = out.stdout.strip().splitlines()[0]
    lines = [tuple(float(x) for x in m.groups()) for m in PROGRESS.finditer(out.stderr)]
    return res, lines


def gap(best: float, bound: float) -> float:
    return (bound - best) / max(1.0, abs(bound))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old", required=True, type=Path, help="checkout of the older code")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--at", type=float, default=20.0)
    a = ap.parse_args()
    if not (a.old / "assortopt").is_dir():
        ap.error(f"--old: {a.old} has no assortopt package")
    new = Path(__file__).resolve().parents[1]
    print(f"== 1. node rate, N=10 T=50 K=50 seed 1, mip bnb start=none, {a.limit:g} s")
    print(
        f"{'family':<7} {'code':<4} {'nodes@' + format(a.at, 'g'):>9} {'t s':>5} {'nodes/s':>8} "
        f"{'bound':>9} {'gap %':>7} | {'nodes':>8} {'nodes/s':>8} {'objective':>10} "
        f"{'bound':>9} {'gap %':>7}"
    )
    for fam in ("dense", "mnl", "sparse"):
        for label, path in (("old", a.old), ("new", new)):
            res, lines = run(path, fam, a.limit)
            near = min(lines, key=lambda x: abs(x[3] - a.at)) if lines else None
            head = "-"
            if near is not None:
                n, best, bound, t = near
                head = (
                    f"{int(n):>9} {t:>5.1f} {n / t:>8.0f} {bound:>9.4f} "
                    f"{100 * gap(best, bound):>7.3f}"
                )
            print(
                f"{fam:<7} {label:<4} {head} | {res['nodes']:>8} "
                f"{res['nodes'] / res['solve_s']:>8.0f} {res['objective']:>10.4f} "
                f"{res['bound']:>9.4f} {100 * res['gap']:>7.3f}  ({res['module']})",
                flush=True,
            )
    print("\n== 2. sales tables carried or not: CPU s of the first 20,000 nodes (dense seed 1)")
    env = dict(os.environ, PYTHONPATH=str(new))
    out = subprocess.run(
        [sys.executable, "-c", REUSE], env=env, capture_output=True, text=True, check=True,
        cwd=new,
    )  # fmt: skip
    for line in out.stdout.strip().splitlines():
        r = json.loads(line)
        print(
            f"reuse_sales={r['mode']!s:<6} nodes {r['nodes']} cpu {r['cpu_s']:.2f} s "
            f"({r['nodes'] / r['cpu_s']:.0f} nodes/cpu-s) runs {r['runs']} bound {r['bound']:.6f}"
        )


if __name__ == "__main__":
    main()
