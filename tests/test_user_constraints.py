"""User additions to a built model are honoured, on both HiGHS paths, exactly as brute force says.

Claims under test, each against an independent truth:

* a linear constraint a user adds to the Pyomo model (total units ≤ B, a shelf-space row
  Σ w_i q_i ≤ W, at least one product from each of two categories through the ``carry``
  binaries, integrality of the SAA-LP's stock) moves the optimum to the best plan a brute force
  over every integer stock vector in the box finds among those that satisfy it; plans are scored
  by the same SAA objective computed independently: `simulate_stream` on the same streams for
  the sample-path MIP, the unconstrained model solved with the stock fixed for the spill MIP and
  the SAA-LP. Both ``path="standard-form"`` and ``path="pyomo"``; the constraint binds;
* something the standard-form compiler cannot carry (a quadratic objective term, a quadratic
  constraint) is never dropped: a warning, then Pyomo's HiGHS interface solves it with the term
  in force, or a `SolverError` says HiGHS cannot; ``path="fast"`` refuses a materialised model;
* `build` is the model the methods solve; `Formulation.plan`/`values`/`solution` give the stock,
  labelled values and a solution file that `load_solution` reads back and `simulate` scores.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np
import pyomo.environ as pyo
import pytest
from factories import random_instance

from assortopt import solve
from assortopt.exceptions import OptionError, SolverError
from assortopt.instance import Instance
from assortopt.models import build
from assortopt.models.formulation import Formulation
from assortopt.sampling import sample_streams
from assortopt.simulation import simulate, simulate_stream
from assortopt.solution import solution_from_dict
from assortopt.solver import SolverOptions, solve_lp

EXACT = SolverOptions(threads=1, mip_gap=0.0)
PATHS = ["standard-form", "pyomo"]


def tiny(seed: int, fixed: bool = False) -> Instance:
    """Three products, 5 customers a season, every margin positive (all are MIP candidates)."""
    inst = random_instance(3, seed=seed, T=5, fixed=fixed)
    assert np.all(inst.price > inst.cost)
    return inst


def box(upper: np.ndarray) -> list[np.ndarray]:
    """Every integer stock vector with 0 ≤ q ≤ upper."""
    return [np.array(q) for q in itertools.product(*(range(int(u) + 1) for u in upper))]


def stock_sum(f: Formulation, pred) -> object:
    q = f.var("stock")
    return sum(pred(i) * q[i] for i in q)


def solve_path(f: Formulation, path: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a linear model must not fall back
        res = f.solve(EXACT, path=path)
    assert res.status == "optimal" and res.path == path
    return res


# ------------------------------------------------------------------ sample-path MIP
def saa_value(inst: Instance, stream, q: np.ndarray) -> float:
    """The SAA objective of plan q: mean simulated profit over the same scenarios."""
    return float(simulate_stream(inst, q, stream).profits.mean())


def brute(inst: Instance, stream, plans: list[np.ndarray]) -> tuple[float, np.ndarray]:
    vals = [saa_value(inst, stream, q) for q in plans]
    k = int(np.argmax(vals))
    return vals[k], plans[k]


@pytest.fixture(scope="module")
def spm_case():
    """Tiny instance, 6 scenarios, the SAA value of every plan in the box (max customers)."""
    inst = tiny(3)
    stream = sample_streams(inst, 6, seed=11)
    top = int(stream.customers_per_scenario.max())
    plans = box(np.full(inst.n, top))
    return inst, stream, plans


@pytest.mark.parametrize("path", PATHS)
def test_total_units_cap_matches_brute_force(spm_case, path: str) -> None:
    inst, stream, plans = spm_case
    free_val, free_q = brute(inst, stream, plans)
    f0 = build("sample_path_mip", inst, stream)
    r0 = f0.solve(EXACT)
    assert r0.objective == pytest.approx(free_val, abs=1e-9)
    cap = int(free_q.sum()) - 1
    assert cap >= 0

    f = build("sample_path_mip", inst, stream)
    f.model.total_units = pyo.Constraint(expr=stock_sum(f, lambda i: 1) <= cap)
    res = solve_path(f, path)
    plan = f.plan(res)
    want, _ = brute(inst, stream, [q for q in plans if q.sum() <= cap])
    assert plan.stock.sum() <= cap
    assert res.objective == pytest.approx(want, abs=1e-9)
    assert saa_value(inst, stream, plan.stock) == pytest.approx(want, abs=1e-9)
    assert want < free_val - 1e-9  # the cap binds
    assert plan.status == "optimal" and plan.extra["user_components"] == ["total_units"]


@pytest.mark.parametrize("path", PATHS)
def test_category_rule_via_carry_matches_brute_force(path: str) -> None:
    # fixed costs make the builder add carry binaries z_i = [q_i ≥ 1]; the rule is on them
    inst = tiny(5, fixed=True)
    stream = sample_streams(inst, 6, seed=2)
    top = int(stream.customers_per_scenario.max())
    plans = box(np.full(inst.n, top))
    free_val, free_q = brute(inst, stream, plans)
    # category A: a product the free optimum leaves out; category B: the others
    out = np.flatnonzero(free_q == 0)
    assert len(out) >= 1
    a = {inst.ids[int(out[0])]}
    b = set(inst.ids) - a

    f = build("sample_path_mip", inst, stream)
    z = f.var("carry")
    f.model.cat_a = pyo.Constraint(expr=sum(z[i] for i in a) >= 1)
    f.model.cat_b = pyo.Constraint(expr=sum(z[i] for i in b) >= 1)
    res = solve_path(f, path)
    plan = f.plan(res)
    ok = [
        q
        for q in plans
        if any(q[inst.index[i]] > 0 for i in a) and any(q[inst.index[i]] > 0 for i in b)
    ]
    want, _ = brute(inst, stream, ok)
    assert any(plan.stock[inst.index[i]] > 0 for i in a)
    assert any(plan.stock[inst.index[i]] > 0 for i in b)
    assert res.objective == pytest.approx(want, abs=1e-9)
    assert saa_value(inst, stream, plan.stock) == pytest.approx(want, abs=1e-9)
    assert want < free_val - 1e-9


# ------------------------------------------------------------------ spill MIP and SAA-LP
def fixed_stock_value(f: Formulation, q: np.ndarray) -> float | None:
    """Optimal second-stage value of the *unconstrained* model with stock fixed to q."""
    lp = f.lp
    cols = f.var_blocks["stock"].cols
    lo, hi = lp.col_lo.copy(), lp.col_hi.copy()
    if np.any(q > hi[cols] + 1e-9):
        return None
    lo[cols] = hi[cols] = q
    res = solve_lp(dataclasses.replace(lp, col_lo=lo, col_hi=hi), EXACT)
    return res.objective if res.status == "optimal" else None


@pytest.fixture(scope="module")
def counts_case():
    inst = tiny(8)
    from assortopt.models.scenario_data import first_choice_counts

    return inst, first_choice_counts(inst, None, 5, seed=4)


@pytest.mark.parametrize("path", PATHS)
def test_shelf_space_on_spill_mip_matches_brute_force(counts_case, path: str) -> None:
    inst, counts = counts_case
    width = {i: w for i, w in zip(inst.ids, (1.0, 2.0, 3.0), strict=True)}
    ref = build("spill_mip", inst, counts)
    upper = ref.lp.col_hi[ref.var_blocks["stock"].cols]
    scored = [(q, fixed_stock_value(ref, q)) for q in box(upper)]
    scored = [(q, v) for q, v in scored if v is not None]
    free_q, free_val = max(scored, key=lambda t: t[1])
    assert ref.solve(EXACT).objective == pytest.approx(free_val, abs=1e-7)
    w = np.array([width[i] for i in inst.ids])
    shelf = float(w @ free_q) - 1.0

    f = build("spill_mip", inst, counts)
    f.model.shelf = pyo.Constraint(expr=stock_sum(f, lambda i: width[i]) <= shelf)
    res = solve_path(f, path)
    plan = f.plan(res)
    want = max(v for q, v in scored if w @ q <= shelf + 1e-9)
    assert w @ plan.stock <= shelf + 1e-9
    assert res.objective == pytest.approx(want, abs=1e-7)
    assert fixed_stock_value(ref, plan.stock) == pytest.approx(want, abs=1e-7)
    assert want < free_val - 1e-7


@pytest.mark.parametrize("path", PATHS)
def test_integer_stock_and_cap_on_saa_lp_match_brute_force(counts_case, path: str) -> None:
    inst, counts = counts_case
    ref = build("saa_lp", inst, counts)
    free = ref.solve(EXACT)
    qf = ref.var_blocks["stock"].values(free.x)
    top = int(counts.sum(axis=1).max())
    scored = [(q, fixed_stock_value(ref, q)) for q in box(np.full(inst.n, top))]
    best_int = max(v for _, v in scored)
    cap = int(np.floor(qf.sum())) - 1
    assert cap >= 0

    f = build("saa_lp", inst, counts)
    q = f.var("stock")
    for i in q:
        q[i].domain = pyo.NonNegativeIntegers  # a domain change the compiler must carry
    f.model.total_units = pyo.Constraint(expr=stock_sum(f, lambda i: 1) <= cap)
    res = solve_path(f, path)
    plan = f.plan(res)
    want = max(v for q, v in scored if q.sum() <= cap)
    assert plan.stock.sum() <= cap and plan.status == "optimal"
    np.testing.assert_allclose(f.var_blocks["stock"].values(res.x), plan.stock, atol=1e-6)
    assert res.objective == pytest.approx(want, abs=1e-7)
    assert want < best_int - 1e-7 and best_int <= free.objective + 1e-7


# ------------------------------------------------------------------ what the compiler cannot carry
def test_quadratic_objective_falls_back_and_is_honoured(counts_case) -> None:
    inst, counts = counts_case
    base = build("saa_lp", inst, counts)
    r0 = base.solve(EXACT)
    x0 = r0.x

    f = build("saa_lp", inst, counts)
    q = f.var("stock")
    idx = f.var_blocks["stock"].cols
    m = f.model
    m.objective.deactivate()
    m.penalised = pyo.Objective(
        expr=m.objective.expr - 0.5 * sum(q[i] ** 2 for i in q), sense=pyo.maximize
    )
    with pytest.warns(UserWarning, match="cannot carry"):
        res = f.solve(EXACT, path="standard-form")
    assert res.path == "pyomo" and res.status == "optimal"

    def penalised(x: np.ndarray) -> float:
        return base.lp.objective_value(x) - 0.5 * float(np.sum(x[idx] ** 2))

    assert base.lp.is_feasible(res.x)
    assert res.objective == pytest.approx(penalised(res.x), abs=1e-6)  # the term is in force
    assert penalised(res.x) > penalised(x0) + 1e-6  # and changed the answer
    assert np.max(np.abs(res.x[idx] - x0[idx])) > 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        direct = f.solve(EXACT, path="pyomo")
    assert direct.objective == pytest.approx(res.objective, abs=1e-6)
    assert f.user_components() == ["penalised", "objective (deactivated)"]


def test_quadratic_constraint_warns_then_refuses(spm_case) -> None:
    inst, stream, _ = spm_case
    f = build("sample_path_mip", inst, stream)
    f.model.round_shelf = pyo.Constraint(expr=stock_sum(f, lambda i: 1) ** 2 <= 4)
    with pytest.warns(UserWarning, match="cannot carry"):
        with pytest.raises(SolverError, match="HiGHS cannot solve this model"):
            f.solve(EXACT)


def test_quadratic_objective_on_a_mip_warns_then_refuses(counts_case) -> None:
    inst, counts = counts_case
    f = build("spill_mip", inst, counts)
    q = f.var("stock")
    m = f.model
    m.objective.deactivate()
    m.penalised = pyo.Objective(
        expr=m.objective.expr - 0.5 * sum(q[i] ** 2 for i in q), sense=pyo.maximize
    )
    with pytest.warns(UserWarning, match="cannot carry"):
        with pytest.raises(SolverError, match="quadratic objective only on a continuous"):
            f.solve(EXACT)


def test_fast_path_refuses_a_materialised_model(spm_case) -> None:
    inst, stream, _ = spm_case
    f = build("sample_path_mip", inst, stream)
    assert f.solve(EXACT, path="fast").status == "optimal"
    f.model.total_units = pyo.Constraint(expr=stock_sum(f, lambda i: 1) <= 0)
    with pytest.raises(ValueError, match="path='fast'"):
        f.solve(EXACT, path="fast")
    res = f.solve(EXACT)  # auto: the constraint is kept
    assert res.path == "standard-form" and f.plan(res).stock.sum() == 0


# ------------------------------------------------------------------ build, plan, values, solution
def test_build_is_the_model_the_methods_solve() -> None:
    inst = tiny(3)
    f = build("sample-path-mip", inst, scenarios=6, seed=9)
    res = f.solve(EXACT)
    sol = solve(
        inst, "mip", scenarios=6, seed=9, eval_reps=0, options=EXACT, params={"start": "none"}
    )
    assert res.objective == pytest.approx(sol.plan.objective, abs=1e-9)
    g = build("spill_mip", inst, scenarios=6, seed=9)
    sol2 = solve(inst, "spill-mip", scenarios=6, seed=9, eval_reps=0, options=EXACT)
    assert g.solve(EXACT).objective == pytest.approx(sol2.plan.objective, abs=1e-7)


def test_plan_values_and_solution_round_trip(spm_case) -> None:
    inst, stream, _ = spm_case
    f = build("sample_path_mip", inst, stream, seed=5)
    res = f.solve(EXACT)
    plan = f.plan(res)
    stock = f.values("stock", res)
    assert list(stock.index) == [inst.ids[i] for i in f.info["products"]]
    np.testing.assert_allclose(stock.to_numpy(), plan.stock[f.info["products"]])
    buy = f.values("buy", res)
    assert buy.index.names == ["scenario", "arrival", "product"]
    assert set(np.unique(buy.to_numpy())) <= {0.0, 1.0}
    # units bought per product over the kept scenarios, weighted, reproduce the simulated sales
    d = f.info["pairs"]
    w = d.weights[d.cust_scen[d.pair_cust]]
    sold = np.bincount(d.pair_prod, weights=w * buy.to_numpy(), minlength=len(stock))
    sim = simulate_stream(inst, plan.stock, stream).sales.sum(axis=0)
    np.testing.assert_allclose(sold, sim[f.info["products"]], atol=1e-9)

    sol = f.solution(res, eval_reps=500)
    back = solution_from_dict(sol.to_dict(), inst)
    np.testing.assert_array_equal(back.stock, plan.stock)
    assert sol.to_dict()["method"] == "sample_path_mip" and sol.status == "optimal"
    ev = simulate(inst, plan.stock, reps=500, seed=6)  # build seed + 1
    assert sol.evaluation.mean == pytest.approx(ev.mean, abs=1e-12)

    g = build("saa_lp", inst, scenarios=4, seed=1)
    sales = g.values("sales", g.solve(EXACT))
    assert sales.shape == (4, len(g.info["products"])) and sales.index.name == "scenario"


def test_lp_bound_builds_but_has_no_plan() -> None:
    inst = tiny(3)
    f = build("lp_bound", inst)
    res = f.solve(EXACT)
    from assortopt import lp_bound

    assert res.objective == pytest.approx(lp_bound(inst).value, rel=1e-9)
    assert f.values("pi", res).index.tolist() == list(inst.ids)
    with pytest.raises(OptionError, match="no stock variables"):
        f.plan(res)


def test_build_rejects_bad_input() -> None:
    inst = tiny(3)
    with pytest.raises(OptionError, match="unknown formulation"):
        build("lp", inst)
    with pytest.raises(OptionError, match="takes no data"):
        build("lp_bound", inst, np.zeros((2, 3)))
    with pytest.raises(OptionError, match="needs a Stream"):
        build("sample_path_mip", inst, np.zeros((2, 3), np.int64))
    with pytest.raises(OptionError, match="does not take"):
        build("saa_lp", inst, formulation="strong")
    with pytest.raises(OptionError, match="scenarios must be"):
        build("spill_mip", inst, scenarios=0)
    f = build("saa_lp", inst, sample_streams(inst, 3, seed=0))  # a Stream is counted
    assert f.info["scenarios"] == 3
    from assortopt.models.saa_lp import build_saa_lp

    bare = build_saa_lp(inst, np.ones((2, 3), np.int64))
    with pytest.raises(OptionError, match="pass the instance"):
        bare.plan(bare.solve(EXACT))
    assert bare.plan(bare.solve(EXACT), inst).stock.shape == (3,)


def test_plan_of_fractional_lp_stock_is_a_rounded_heuristic(counts_case) -> None:
    inst, counts = counts_case
    f = build("saa_lp", inst, counts)
    res = f.solve(EXACT)
    q = f.var_blocks["stock"].values(res.x)
    assert np.any(np.abs(q - np.round(q)) > 1e-6)  # this LP optimum is fractional
    plan = f.plan(res)
    assert plan.status == "heuristic" and "rounded down" in plan.message
    np.testing.assert_array_equal(plan.stock[f.info["products"]], np.floor(q + 1e-6))
    assert plan.objective == pytest.approx(res.objective) and plan.bound == res.bound
