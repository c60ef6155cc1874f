"""One strict contract for every registered method (a method may not pass by refusing).

On small shipped instances, with and without binding constraints, every method must hand back a
valid integer plan that respects the instance's constraints, a status and termination the status
model allows (`assortopt.solver.status.check`), a plan it actually holds, and the same plan for
the same seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assortopt.instance import load_instance
from assortopt.methods.base import PlanRequest, get_method, list_methods
from assortopt.methods.rounding import check_plan
from assortopt.simulation import simulate
from assortopt.solver import SolverOptions
from assortopt.solver.status import check, holds_plan

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ["chocolate.json", "tiny-mnl-n3-t6.json", "tiny-sparse-n4-t8.json"]


def _instances():
    for name in INSTANCES:
        inst = load_instance(ROOT / "instances" / name)
        yield name, inst
        if inst.budget is None:
            tight = 0.4 * float(inst.cost @ np.ceil(inst.customers_mean * inst.arrival))
            yield f"{name}+budget", inst.replace(budget=max(tight, float(inst.cost.min())))


CASES = [(m, n, i) for m in list_methods() for n, i in _instances()]


@pytest.mark.parametrize(("method", "name", "inst"), CASES, ids=[f"{m}-{n}" for m, n, _ in CASES])
def test_method_contract(method, name, inst):
    req = PlanRequest(scenarios=20, seed=3, options=SolverOptions(threads=1))
    plan = get_method(method)(inst, req)
    check(plan.status, plan.termination)  # raises on a pair the status model forbids
    assert holds_plan(plan.status), f"{method} refused: {plan.status} {plan.message}"
    assert plan.stock.dtype == np.int64 and plan.stock.shape == (inst.n,)
    assert not check_plan(inst, plan.stock), check_plan(inst, plan.stock)
    again = get_method(method)(inst, req)
    np.testing.assert_array_equal(again.stock, plan.stock)
    assert again.objective == plan.objective
    if plan.status == "optimal" and plan.bound is not None and plan.objective is not None:
        assert plan.bound >= plan.objective - 1e-6 * max(1.0, abs(plan.objective))
    # a plan is worth at least nothing under the exact simulator, or the method says why not
    ev = simulate(inst, plan.stock, reps=200, seed=11)
    assert np.isfinite(ev.mean)
