"""Certified gaps of the heuristic from the raw outputs of ``bench_mip.py --certify``.

Run: ``python benchmarks/certified_gaps.py benchmarks/results/certify/*.txt``, or
``python benchmarks/certified_gaps.py --paper benchmarks/results/paper`` for the ``mip`` rows of a
bench sweep (below).

Every ``bnb`` / ``strong`` / ``portfolio`` row of those files is a proven upper bound on the SAA
optimum of its cell (shape, family, seed: the same K scenarios, ``sample_streams(inst, K,
seed)``, in every run), and its objective the in-sample value of a plan. So per cell the
smallest bound over all runs is a valid bound, and the largest objective a lower bound on the
optimum. The ``heuristic`` rows hold the heuristic plan's in-sample SAA value on the same
scenarios. Printed per cell: best bound B, best plan value P (the heuristic's included),
heuristic value H, the certified suboptimality of the heuristic (B − H) / B (an upper bound on
how far it is from the SAA optimum), the lower bound (P − H) / B on it, and the remaining
optimality gap (B − P) / B.

With ``--paper DIR`` (a sweep with ``mip`` and ``heuristic`` rows, e.g. benchmarks/results/paper):
per cell, B and P are the ``mip`` row's bound and objective (its K scenarios are
``sample_streams(inst, K, cell seed)``, K from the row's options), H the heuristic plan of
plans.jsonl scored on those same scenarios. Printed as above, plus the ``mip`` status.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

ROW = re.compile(
    r"^(N=\d+ T=\d+ K=\d+)\s+(\w+)\s+(\d+)\s+(bnb|strong|portfolio|heuristic)\s+(\w+)\s+([\d.]+)\s+"
    r"([-\d.]+)\s+([-\d.]+)"
)


def paper(out: Path) -> None:
    """The table for the ``mip`` rows of the sweep in ``out`` (see the module docstring)."""
    import numpy as np
    import pandas as pd

    from assortopt.bench import load_config
    from assortopt.bench.cell import _make_instance
    from assortopt.models.sample_path_mip import candidate_mask
    from assortopt.models.stock_bnb import StockProblem
    from assortopt.sampling import sample_streams

    df = pd.read_csv(out / "results.csv", dtype={"message": str, "options": str})
    cells = {c.key: c for c in load_config(out / "config.toml").cells()}
    recs = {}
    for line in (out / "plans.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("method") == "heuristic":
            recs[r["cell"]] = r
    print(
        "| cell | mip status | best bound B | mip plan P | heuristic H | certified (B−H)/B % "
        "| (P−H)/B % | open (B−P)/B % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for _, row in df[df.method == "mip"].iterrows():
        cell = cells[row.cell]
        if row.cell not in recs or not np.isfinite(row.mip_bound):
            continue
        inst = _make_instance(cell)[0]
        demand = inst.customers_mean * inst.arrival
        order = np.lexsort((np.arange(inst.n), -demand))  # rank -> product
        h = np.zeros(inst.n, dtype=np.int64)
        h[order[recs[row.cell]["rank"]]] = recs[row.cell]["units"]
        k = int(json.loads(row.options)["scenarios"])
        cand = candidate_mask(inst, None, None) | (h > 0)
        hv = StockProblem(inst, sample_streams(inst, k, cell.seed), cand).value(h)
        b, p = float(row.mip_bound), max(float(row.objective), hv)
        print(
            f"| {row.cell} | {row.status} | {b:.4f} | {float(row.objective):.4f} | {hv:.4f} | "
            f"{100 * (b - hv) / b:.2f} | {100 * (p - hv) / b:.2f} | {100 * (b - p) / b:.2f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--paper", type=Path, help="a bench output directory with mip rows")
    a = ap.parse_args()
    if a.paper is not None:
        paper(a.paper)
        return
    bound: dict[tuple, float] = defaultdict(lambda: float("inf"))
    best: dict[tuple, float] = defaultdict(lambda: float("-inf"))
    heur: dict[tuple, float] = {}
    for path in a.files:
        with open(path) as fh:
            for line in fh:
                m = ROW.match(line)
                if not m:
                    continue
                shape, fam, seed, form = m.group(1), m.group(2), int(m.group(3)), m.group(4)
                obj, ub = float(m.group(7)), float(m.group(8))
                key = (shape, fam, seed)
                best[key] = max(best[key], obj)  # every row's objective is a plan's value
                if form == "heuristic":
                    heur[key] = obj
                    continue
                bound[key] = min(bound[key], ub)
    print(
        "| shape | family | seed | best bound B | best plan P | heuristic H | certified "
        "(B−H)/B % | (P−H)/B % | open (B−P)/B % |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key in sorted(heur, key=lambda k: (k[0], k[1], k[2])):
        b, p, h = bound[key], best[key], heur[key]
        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {b:.4f} | {p:.4f} | {h:.4f} | "
            f"{100 * (b - h) / b:.2f} | {100 * (p - h) / b:.2f} | {100 * (b - p) / b:.2f} |"
        )


if __name__ == "__main__":
    main()
