"""Certified gaps of the heuristic from the raw outputs of ``bench_mip.py --certify``.

Run: ``python benchmarks/certified_gaps.py benchmarks/results/certify/*.txt``

Every ``bnb`` / ``strong`` row of those files is a proven upper bound on the SAA optimum of its
cell (shape, family, seed: the same K scenarios, ``sample_streams(inst, K, seed)``, in every
run), and its objective the in-sample value of a plan. So per cell the smallest bound over all
runs is a valid bound, and the largest objective a lower bound on the optimum. The ``heuristic``
rows hold the heuristic plan's in-sample SAA value on the same scenarios. Printed per cell:
best bound B, best plan value P (the heuristic's included), heuristic value H, the certified
suboptimality of the heuristic (B − H) / B (an upper bound on how far it is from the SAA
optimum), the lower bound (P − H) / B on it, and the remaining optimality gap (B − P) / B.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

ROW = re.compile(
    r"^(N=\d+ T=\d+ K=\d+)\s+(\w+)\s+(\d+)\s+(bnb|strong|heuristic)\s+(\w+)\s+([\d.]+)\s+"
    r"([-\d.]+)\s+([-\d.]+)"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
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
