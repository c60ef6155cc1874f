"""The README's "Python API" walk-through: load, bound, solve; then build, extend, solve, plan,
simulate, write. (The README block is the body of `main`; tests run both.)

Run: ``python docs/examples/python_api.py``
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def main() -> dict[str, object]:
    root = Path(__file__).resolve().parents[2]
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # my-plan.json goes to a scratch folder
        try:
            ns: dict[str, object] = {}
            exec(CODE.replace('"instances/', f'"{root}/instances/'), ns)
        finally:
            os.chdir(old)
    return ns


CODE = """\
import assortopt
import pyomo.environ as pyo
from assortopt.models import build

inst = assortopt.load_instance("instances/chocolate.json")  # raises assortopt.InstanceError
p = assortopt.choice_probabilities(inst, ["cocoa90", "cocoa70"])  # P_j(S) for an offer set
b = assortopt.lp_bound(inst)  # b.value: upper bound on expected profit; b.assortment
sol = assortopt.solve(inst, method="heuristic", scenarios=100, seed=0)
print(sol.stock, sol.evaluation.mean, sol.evaluation.stderr)

# Build a formulation, add your own constraint, solve it, turn it into a plan
f = build("spill_mip", inst, scenarios=100, seed=0)  # same model as method "spill-mip"
q = f.var("stock")  # Pyomo Var indexed by product id
f.model.total_units = pyo.Constraint(expr=sum(q[i] for i in q) <= 60)
res = f.solve(assortopt.SolverOptions(time_limit=60))  # status, objective, bound, gap
plan = f.plan(res)  # integer stock per product (length N), contract status
print(res.summary(), plan.stock)
print(f.values("sales", res).mean())  # mean sales per product (pandas, by product id)

# Simulate the plan (same seed = same customers for every plan) and write the solution file
ev = assortopt.simulate(inst, plan.stock, reps=10000, seed=1)
d, se = assortopt.paired_difference(ev, assortopt.simulate(inst, sol.stock, reps=10000, seed=1))
print(ev.mean, ev.stderr, d, se)  # profit per season; the cap's cost against the heuristic
mine = f.solution(res)  # an assortopt.Solution (as solve() returns), evaluated out of sample
assortopt.write_solution("my-plan.json", mine.to_dict())
"""


if __name__ == "__main__":
    main()
