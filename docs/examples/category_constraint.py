"""Add "at least n products from each category" to the sample-path MIP and see what it costs.

The cluster generator puts products in categories (``metadata["category"]``). We build the exact
sample-path SAA MIP with `assortopt.models.build`, add our own binaries ``has[i]`` (product i is
stocked: ``q_i ≥ has_i``) and one row per category ``Σ_{i∈c} has_i ≥ n`` to its Pyomo model,
solve it (the added rows go to HiGHS through the standard-form compiler), and compare the two
plans in sample and out of sample with common random numbers.

Run: ``python docs/examples/category_constraint.py [--small]``
"""

from __future__ import annotations

import sys

import numpy as np
import pyomo.environ as pyo

import assortopt
from assortopt.models import build
from assortopt.simulation import paired_difference, simulate, simulate_stream


def main(small: bool = False) -> dict[str, object]:
    n, customers, scenarios = (12, 10, 8) if small else (30, 40, 30)
    need = 1 if small else 2  # products required from each category
    # small categories and a heavy tail: some categories hold only long-tail products
    inst = assortopt.generate("cluster", n, customers, seed=3, category_size=[2, 4])
    cat = np.asarray(inst.metadata["category"])
    options = assortopt.SolverOptions(mip_gap=0.0, time_limit=120)

    # 1. the plain SAA MIP (the same model `assortopt.solve(method="mip")` builds)
    free = build("sample_path_mip", inst, scenarios=scenarios, seed=0)
    r_free = free.solve(options)
    p_free = free.plan(r_free)

    # 2. the same model plus our category rule
    f = build("sample_path_mip", inst, scenarios=scenarios, seed=0)
    m = f.model
    q = f.var("stock")  # indexed by product id (products the MIP may stock)
    m.has = pyo.Var(list(q), domain=pyo.Binary)
    m.has_needs_stock = pyo.Constraint(list(q), rule=lambda m, i: q[i] >= m.has[i])
    groups = {c: [i for i in q if cat[inst.index[i]] == c] for c in np.unique(cat)}
    m.category = pyo.Constraint(
        list(groups), rule=lambda m, c: sum(m.has[i] for i in groups[c]) >= need
    )
    r_cat = f.solve(options)  # path "auto" = standard-form, since the model exists
    p_cat = f.plan(r_cat)

    # 3. in sample (exact on the planning streams) and out of sample (common random numbers)
    ev_free = simulate(inst, p_free.stock, reps=2000 if small else 20000, seed=99)
    ev_cat = simulate(inst, p_cat.stock, reps=ev_free.reps, seed=99)
    d, se = paired_difference(ev_cat, ev_free)
    print(f"{n} products in {len(groups)} categories, K={scenarios}, need {need} per category")
    for name, p, ev in (("free", p_free, ev_free), ("category", p_cat, ev_cat)):
        per_cat = {int(c): int(sum(p.stock[cat == c] > 0)) for c in groups}
        print(
            f"  {name:8s} in-sample {p.objective:7.3f}  out-of-sample {ev.mean:7.3f} ± "
            f"{ev.stderr:.3f}  products per category {per_cat}"
        )
    print(
        f"  cost of the rule: {p_free.objective - p_cat.objective:.3f} in sample, "
        f"{-d:.3f} ± {se:.3f} out of sample"
    )

    # Checks that could fail:
    stream = assortopt.sample_streams(inst, scenarios, 0)  # the streams `build` sampled
    assert p_cat.objective <= p_free.objective + 1e-9  # a constraint cannot help in sample
    assert p_cat.objective < p_free.objective - 1e-9  # and here it binds (a category was empty)
    for c, ids in groups.items():  # the plan honours the rule
        assert sum(p_cat.stock[inst.index[i]] > 0 for i in ids) >= need, c
    for p in (p_free, p_cat):  # objectives are the exact SAA values of the plans
        saa = float(simulate_stream(inst, p.stock, stream).profits.mean())
        assert abs(saa - p.objective) < 1e-6, (saa, p.objective)
    return {"inst": inst, "free": p_free, "category": p_cat, "paired": (d, se), "groups": groups}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
