"""``mip`` with ``formulation="portfolio"``: the stock branch-and-bound and the strong HiGHS model
race on the same scenarios (models/stock_bnb.md §7).

Claims under test, each against an independent truth:

* the portfolio's certified optimum is the exhaustive SAA optimum (every plan simulated on the
  same scenarios), with fixed costs, budget and max_products;
* the search's ``external`` hook: a bound from outside that the incumbent meets stops the
  search as optimal (where the same search without it is not), plans from outside are scored
  by the simulator and ignored when they leave the box, and a bound from outside never makes
  the reported bound smaller than the best plan's value;
* the HiGHS process alone (`Rival`): every bound it reports is ≥ the exhaustive optimum, every
  plan it sends is worth at most that, and it ends optimal with that value;
* the HiGHS observer of `assortopt.solver.highs`: the bounds a run reports are ≥ its optimum,
  the solutions it reports are feasible, and it is asked for user solutions;
* the time limit holds for the whole call and the HiGHS process is gone afterwards; a HiGHS
  process that fails is named in the plan's message, and the plan and bound are still valid.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from factories import random_instance
from test_stock_bnb import exhaustive, feasible, saa

from assortopt.methods import mip_portfolio
from assortopt.methods.base import PlanRequest, get_method
from assortopt.models.sample_path_mip import (
    build_sample_path_mip,
    candidate_mask,
    solve_sample_path_mip,
)
from assortopt.models.stock_bnb import solve_stock_bnb
from assortopt.sampling import sample_streams
from assortopt.solver import SolverOptions
from assortopt.solver.highs import observe
from assortopt.solver.process import Child

CASES = [{}, {"fixed": True}, {"max_products": 2}, {"budget": "tight", "fixed": True}]


def tiny(case: int, seed: int):
    kw = dict(CASES[case])
    budget = kw.pop("budget", None)
    inst = random_instance(3, seed=40 + 10 * case + seed, T=5, **kw)
    if budget == "tight":
        inst = inst.replace(budget=float(inst.cost.sum() * 1.5))
    return inst


@pytest.mark.parametrize("case", range(len(CASES)))
def test_portfolio_certifies_the_exhaustive_optimum(case: int) -> None:
    inst = tiny(case, 0)
    req = PlanRequest(
        scenarios=8,
        seed=3,
        options=SolverOptions(threads=1, mip_gap=0.0),
        params={"formulation": "portfolio", "start": "none"},
    )
    p = get_method("mip")(inst, req)
    st = sample_streams(inst, 8, 3)
    top = int(st.customers_per_scenario.max())
    want, _ = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
    assert p.status == "optimal"
    assert p.objective == pytest.approx(want, abs=1e-9)
    assert saa(inst, st, p.stock) == pytest.approx(want, abs=1e-9)
    assert p.bound == pytest.approx(want, abs=1e-6)
    assert feasible(inst, p.stock)
    assert p.extra["formulation"] == "portfolio" and p.extra["highs"]["error"] is None


def test_an_outside_bound_and_plan_stop_the_search_as_optimal() -> None:
    inst = random_instance(3, seed=7, T=6, fixed=True)
    st = sample_streams(inst, 10, 5)
    top = int(st.customers_per_scenario.max())
    want, q_opt = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
    alone = solve_stock_bnb(inst, st, mip_gap=0.0, max_nodes=1)
    assert alone.status == "feasible" and alone.objective < want - 1e-9  # the control
    calls = []

    def hook(best, best_q):
        calls.append(best)
        away = np.array([top + 5, 0, 0])  # outside the box: must be ignored
        return want, [away, q_opt]

    r = solve_stock_bnb(inst, st, mip_gap=0.0, max_nodes=1, external=hook)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(want, abs=1e-9)
    assert saa(inst, st, r.stock) == pytest.approx(want, abs=1e-9)
    assert r.bound == pytest.approx(want, abs=1e-9)
    assert calls and r.extra["external_bound"] == pytest.approx(want)


def test_an_outside_bound_caps_the_reported_bound_but_not_below_the_best_plan() -> None:
    inst = random_instance(3, seed=8, T=6)
    st = sample_streams(inst, 10, 6)
    top = int(st.customers_per_scenario.max())
    want, _ = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
    alone = solve_stock_bnb(inst, st, mip_gap=0.0, max_nodes=1)
    mid = 0.5 * (want + alone.bound)
    r = solve_stock_bnb(inst, st, mip_gap=0.0, max_nodes=1, external=lambda b, q: (mid, []))
    assert r.bound == pytest.approx(min(alone.bound, mid))
    assert r.bound >= want - 1e-9
    # a bound below the incumbent (HiGHS's tolerances) cannot push the reported bound under it
    low = solve_stock_bnb(inst, st, max_nodes=1, external=lambda b, q: (b - 1e-7, []))
    assert low.bound >= low.objective


def _job(inst, st):
    return {
        "inst": inst,
        "build": {
            "stream": st,
            "candidates": candidate_mask(inst, None, None),
            "min_stock": None,
            "committed": None,
        },
        "options": SolverOptions(threads=1, mip_gap=0.0, time_limit=60.0),
        "start_stock": None,
        "lp_first": True,
        "sent": time.time(),
    }


def test_the_highs_process_reports_valid_bounds_and_plans() -> None:
    inst = random_instance(4, seed=21, T=6, fixed=True)
    st = sample_streams(inst, 12, 2)
    top = int(st.customers_per_scenario.max())
    want, q_opt = exhaustive(inst, st, np.zeros(4, int), np.full(4, top))
    rival = mip_portfolio.Rival(_job(inst, st), verbose=False)
    bounds, plans = [], []
    t0 = time.perf_counter()
    while rival.final is None and rival.error is None and time.perf_counter() - t0 < 60:
        b, new = rival(-np.inf, q_opt)  # the optimum, sent as the search's incumbent
        bounds.append(b)
        plans += new
        time.sleep(0.05)
    b, new = rival(-np.inf, q_opt)
    seen = rival.close()
    plans += new
    assert seen["error"] is None and seen["status"] == "optimal"
    assert seen["objective"] == pytest.approx(want, abs=1e-6)
    assert all(b is None or b >= want - 1e-6 for b in [*bounds, seen["bound"]])
    assert plans and all(saa(inst, st, q) <= want + 1e-9 for q in plans)


def test_the_highs_observer_sees_bounds_solutions_and_is_asked_for_plans() -> None:
    inst = random_instance(5, seed=3, T=8, fixed=True)
    st = sample_streams(inst, 30, 1)
    f = build_sample_path_mip(inst, st, "strong", unit_level=False)

    class Recorder:
        def __init__(self):
            self.bounds, self.xs, self.asked = [], [], 0

        def bound(self, v):
            self.bounds.append(v)

        def solution(self, x):
            self.xs.append(x)

        def user_solution(self):
            self.asked += 1
            return None

    rec = Recorder()
    opts = SolverOptions(threads=1, mip_gap=0.0, highs={"presolve": "off"})
    with observe(rec):
        res = solve_sample_path_mip(f, inst, opts, lp_first=False)
    assert res.status == "optimal"
    assert rec.xs and all(f.lp.is_feasible(x) for x in rec.xs)
    finite = [b for b in rec.bounds if np.isfinite(b)]
    assert finite and min(finite) >= res.objective - 1e-6 * max(1.0, abs(res.objective))
    assert rec.asked > 0


def dense_portfolio(seed: int, limit: float):
    """``mip --formulation portfolio`` on a 10-product, 50-customer instance, K = 20, no start;
    the plan, the instance and its scenarios."""
    from assortopt.generators import generate

    inst = generate("dense", 10, 50, seed=seed)
    req = PlanRequest(
        scenarios=20,
        seed=seed,
        options=SolverOptions(threads=1, time_limit=limit),
        params={"formulation": "portfolio", "start": "none"},
    )
    return get_method("mip")(inst, req), inst, sample_streams(inst, 20, seed)


def _children() -> list[int]:
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ppid = fh.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if ppid == me and b"assortopt.solver.process" in cmd:
            out.append(int(pid))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_time_limit_holds_and_the_highs_process_is_gone() -> None:
    t0 = time.perf_counter()
    p, inst, st = dense_portfolio(seed=1, limit=3.0)
    elapsed = time.perf_counter() - t0
    assert elapsed <= 3.0 * 1.1 + 1.0
    assert p.status == "feasible" and p.termination == "time_limit"
    assert p.objective == pytest.approx(saa(inst, st, p.stock), abs=1e-9)
    assert p.bound >= p.objective
    assert _children() == []


def test_a_failed_highs_process_is_named_and_the_search_stays_valid(monkeypatch) -> None:
    monkeypatch.setattr(Child, "command", (sys.executable, "-c", "import sys; sys.exit(3)"))
    p, inst, st = dense_portfolio(seed=2, limit=1.5)
    assert "the strong HiGHS model failed" in p.message and "exit status 3" in p.message
    assert p.objective == pytest.approx(saa(inst, st, p.stock), abs=1e-9)
    assert p.bound >= p.objective
    assert p.extra["highs"]["bound"] is None


def test_portfolio_refuses_highs_only_params_before_starting_anything(monkeypatch) -> None:
    from assortopt.exceptions import OptionError

    def no_process(*a, **k):
        raise AssertionError("a HiGHS process was started")

    monkeypatch.setattr(mip_portfolio.Rival, "__init__", no_process)
    inst = random_instance(3, seed=1, T=5)
    req = PlanRequest(scenarios=5, seed=1, params={"formulation": "portfolio", "presolve": "on"})
    with pytest.raises(OptionError, match="formulation=portfolio does not take presolve"):
        get_method("mip")(inst, req)
