"""Plan quality of the ``heuristic`` before and after a change, paired on common seasons.

Main's code and a branch's cannot run in one process, so the comparison has two halves:

    # on the old code: plan every instance, save the plans and their out-of-sample profits
    python benchmarks/bench_heuristic_quality.py record benchmarks/results/scale/quality_before.json
    # on the new code: plan again, evaluate BOTH plans on the same seasons, paired difference
    python benchmarks/bench_heuristic_quality.py compare \
        benchmarks/results/scale/quality_before.json

Instances: the shipped ``instances/*.json`` (one customer stream each; the ``*.online.json``
companion files are not instances) and a few cells of the paper grid (benchmarks/paper.toml:
``sparse`` with k = 8, ``cluster``, ``mnl``, Zipf tail α = 1, medium margins, seed 0).
The heuristic runs with its defaults, ``scenarios = 100`` and planning seed 0, no time limit;
evaluation: ``--reps`` seasons (default 2000) from seed ``--eval-seed`` (default 777, independent
of the planning seed). The verdict per instance is the paired mean difference new − old and its
standard error; "same" when the plans are identical.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np

from assortopt.generators import generate
from assortopt.instance import Instance, load_instance
from assortopt.methods.base import PlanRequest, get_method
from assortopt.simulation import simulate

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: paper-grid cells: (label, family, N, T, generator params)
CELLS = [
    ("paper sparse-n200-t400", "sparse", 200, 400, {"k": 8}),
    ("paper cluster-n200-t400", "cluster", 200, 400, {}),
    ("paper mnl-n200-t400", "mnl", 200, 400, {}),
    ("paper sparse-n1000-t1000", "sparse", 1000, 1000, {"k": 8}),
    ("paper cluster-n1000-t1000", "cluster", 1000, 1000, {}),
    ("paper sparse-n10000-t10000", "sparse", 10000, 10000, {"k": 8}),
]


def instances(max_n: int) -> list[tuple[str, Instance]]:
    out = []
    for p in sorted(glob.glob(os.path.join(ROOT, "instances", "*.json"))):
        if p.endswith(".online.json"):
            continue
        inst = load_instance(p)
        if inst.n <= max_n:
            out.append((os.path.basename(p), inst))
    for label, fam, n, t, kw in CELLS:
        if n <= max_n:
            out.append(
                (label, generate(fam, n, t, 0, tail="zipf", alpha=1.0, margin="medium", **kw))
            )
    return out


def plan(inst: Instance) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    p = get_method("heuristic")(inst, PlanRequest(scenarios=100, seed=0))
    return np.asarray(p.stock, dtype=np.int64), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("record", "compare"))
    ap.add_argument("file")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--eval-seed", type=int, default=777)
    ap.add_argument("--max-n", type=int, default=10000)
    ap.add_argument("--output", help="compare: also write the table (JSON) here")
    a = ap.parse_args(argv)
    if a.mode == "record":
        rows = {}
        for label, inst in instances(a.max_n):
            q, dt = plan(inst)
            ev = simulate(inst, q, a.reps, a.eval_seed)
            rows[label] = {
                "stock": q.tolist(),
                "mean": ev.mean,
                "se": ev.stderr,
                "plan_s": dt,
            }
            print(f"{label:<30} {ev.mean:12.4f} ± {ev.stderr:8.4f}  plan {dt:7.2f} s", flush=True)
        with open(a.file, "w") as f:
            json.dump({"reps": a.reps, "eval_seed": a.eval_seed, "rows": rows}, f)
        return 0
    with open(a.file) as f:
        old = json.load(f)
    reps, seed = int(old["reps"]), int(old["eval_seed"])
    print(f"{'instance':<30} {'old':>12} {'new':>12} {'new - old':>10} {'± se':>8}  verdict")
    table = {}
    worse = 0
    for label, inst in instances(a.max_n):
        if label not in old["rows"]:
            continue
        q_old = np.asarray(old["rows"][label]["stock"], dtype=np.int64)
        q_new, dt = plan(inst)
        e_old = simulate(inst, q_old, reps, seed)
        e_new = simulate(inst, q_new, reps, seed)
        d = e_new.profits - e_old.profits
        diff, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
        if np.array_equal(q_old, q_new):
            verdict = "same plan"
        elif diff >= -2 * se:
            verdict = "within 2 se" if diff < 2 * se else "better"
        else:
            verdict = "WORSE"
            worse += 1
        table[label] = {
            "old": e_old.mean,
            "new": e_new.mean,
            "diff": diff,
            "se": se,
            "verdict": verdict,
            "plan_s_old": old["rows"][label]["plan_s"],
            "plan_s_new": dt,
        }
        print(
            f"{label:<30} {e_old.mean:12.4f} {e_new.mean:12.4f} {diff:10.4f} {se:8.4f}  {verdict}"
            f"  (plan {old['rows'][label]['plan_s']:.1f} s -> {dt:.1f} s)",
            flush=True,
        )
    if a.output:
        with open(a.output, "w") as f:
            json.dump({"reps": reps, "eval_seed": seed, "rows": table}, f, indent=1)
    print(f"{worse} instance(s) worse by more than 2 standard errors")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
