"""Branch-and-bound over stock certifies the SAA optimum of the sample-path model.

Claims under test, each against an independent truth:

* the monotone facts the bound rests on (models/stock_bnb.md §2): on a fixed stream one more unit
  of j never raises another product's sales, never lowers j's own or the total, and raises the
  total by at most one (plain-Python replay of random streams);
* the box bound is at least the best exhaustive SAA value over every plan in random boxes, and
  equals the plan's value on a point box;
* the certified optimum equals the exhaustive SAA optimum (every plan in the box simulated on the
  same scenarios), with salvage, fixed costs, budget, max_products and min/max stock bounds;
* method ``mip`` with ``formulation="bnb"`` and with the strong HiGHS model, both run to
  optimality, agree on value and bound;
* the customer-price bound (§3.4) dominates every plan of random boxes, equals the γ-bound at
  constant prices, and certifies the exhaustive optimum; ``mip`` defaults to ``bnb`` and falls
  back to ``strong`` for HiGHS-only calls;
* stopped early (one node, or a tiny time limit), the bound still holds: bound ≥ exhaustive
  optimum ≥ the returned plan's simulated value; the method's time limit covers its warm start;
* the compiled node (§4: one kernel call, sales tables carried from the parent box) gives the
  bound and maximiser of the plain-numpy γ-grid formula of §3.1 on tables built from a
  plain-Python replay, its d table is the replayed S_kj(hi_j, lo_{-j}), its value the
  simulator's, and carried tables give what tables played from scratch give, down a chain of
  random children; the search with and without carried tables is the same search.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from factories import random_instance

from assortopt.exceptions import OptionError
from assortopt.methods.base import PlanRequest, get_method
from assortopt.models.stock_bnb import StockProblem, _box_bound, solve_stock_bnb
from assortopt.sampling import sample_streams
from assortopt.simulation import simulate_stream
from assortopt.solver import SolverOptions
from assortopt.streams import Stream


def replay_sales(stock: np.ndarray, st: Stream) -> np.ndarray:
    """Sales (K, N) by a plain-Python replay: each customer buys her first product in stock."""
    out = np.zeros((st.n_scenarios, st.n_products), dtype=np.int64)
    for k in range(st.n_scenarios):
        left = np.array(stock)
        for c in range(st.scenario_offsets[k], st.scenario_offsets[k + 1]):
            for i in st.customer(c):
                if left[i] > 0:
                    left[i] -= 1
                    out[k, i] += 1
                    break
    return out


def saa(inst, st, q) -> float:
    return float(simulate_stream(inst, np.asarray(q), st).profits.mean())


def plans(lo, hi):
    return [
        np.array(q)
        for q in itertools.product(*(range(a, b + 1) for a, b in zip(lo, hi, strict=True)))
    ]


def feasible(inst, q) -> bool:
    if inst.budget is not None and inst.cost @ q > inst.budget + 1e-9:
        return False
    return inst.max_products is None or int((q > 0).sum()) <= inst.max_products


def exhaustive(inst, st, lo, hi) -> tuple[float, np.ndarray]:
    scored = [(saa(inst, st, q), q) for q in plans(lo, hi) if feasible(inst, q)]
    return max(scored, key=lambda t: t[0])


def test_one_more_unit_is_monotone() -> None:
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(2, 6))
        scen = [
            [list(rng.permutation(n)[: rng.integers(0, n + 1)]) for _ in range(rng.integers(1, 12))]
            for _ in range(3)
        ]
        st = Stream.from_lists(scen, n)
        q = rng.integers(0, 4, n)
        j = int(rng.integers(n))
        q2 = q.copy()
        q2[j] += 1
        s1, s2 = replay_sales(q, st), replay_sales(q2, st)
        others = np.arange(n) != j
        assert np.all(s2[:, others] <= s1[:, others]), trial
        assert np.all(s2[:, j] >= s1[:, j]), trial
        diff = s2.sum(1) - s1.sum(1)
        assert np.all((diff == 0) | (diff == 1)), trial


@pytest.mark.parametrize("seed", range(6))
def test_box_bound_dominates_every_plan_in_the_box(seed: int) -> None:
    inst = random_instance(3, seed=seed, T=6, fixed=seed % 2 == 0, salvage=seed % 3 == 0)
    if seed % 3 == 1:
        inst = inst.replace(max_products=2)
    st = sample_streams(inst, 6, seed)
    prob = StockProblem(inst, st, np.ones(inst.n, bool))
    rng = np.random.default_rng(seed)
    for _ in range(8):
        lo = rng.integers(0, 3, inst.n)
        hi = lo + rng.integers(0, 4, inst.n)
        if not feasible(inst, lo):
            continue
        tab = prob.box(lo, hi)
        ub, q = _box_bound(tab, inst.cost, inst.budget, inst.max_products, prob.gain, 8)
        best, _ = exhaustive(inst, st, lo, hi)
        assert ub >= best - 1e-9
        assert np.all(q >= lo) and np.all(q <= hi)
    point = np.array([2, 1, 0])
    tab = prob.box(point, point.copy())
    ub, _ = _box_bound(tab, inst.cost, inst.budget, inst.max_products, prob.gain, 8)
    assert ub == pytest.approx(saa(inst, st, point), abs=1e-9)


CASES = [
    {},
    {"fixed": True},
    {"salvage": True, "fixed": True},
    {"max_products": 2},
    {"budget": "tight"},
    {"budget": "tight", "max_products": 1, "fixed": True},
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_certified_optimum_equals_exhaustive(case: int) -> None:
    kw = dict(CASES[case])
    budget = kw.pop("budget", None)
    for seed in range(3):
        inst = random_instance(3, seed=10 * case + seed, T=5, **kw)
        if budget == "tight":
            inst = inst.replace(budget=float(inst.cost.sum() * 1.5))
        st = sample_streams(inst, 8, seed)
        top = int(st.customers_per_scenario.max())
        want, _ = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
        r = solve_stock_bnb(inst, st, mip_gap=0.0)
        assert r.status == "optimal"
        assert r.objective == pytest.approx(want, abs=1e-9)
        assert saa(inst, st, r.stock) == pytest.approx(want, abs=1e-9)
        assert r.bound == pytest.approx(want, abs=1e-9)
        assert feasible(inst, r.stock)


def test_stock_bounds_match_brute_force() -> None:
    inst = random_instance(3, seed=4, T=5, fixed=True)
    st = sample_streams(inst, 8, 3)
    top = int(st.customers_per_scenario.max())
    free, q_free = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
    j = int(np.argmax(q_free))
    lo = np.zeros(3, np.int64)
    lo[int(np.argmin(q_free))] = 2  # force stock the free optimum does not want
    hi = np.full(3, top, np.int64)
    hi[j] = q_free[j] - 1  # cap the product the free optimum stocks most
    want, _ = exhaustive(inst, st, lo, hi)
    r = solve_stock_bnb(inst, st, min_stock=lo, max_stock=hi, mip_gap=0.0)
    assert want < free - 1e-9  # the bounds bind
    assert np.all(r.stock >= lo) and np.all(r.stock <= hi)
    assert r.objective == pytest.approx(want, abs=1e-9)
    assert r.bound == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_method_agrees_with_strong_mip(seed: int) -> None:
    inst = random_instance(4, seed=100 + seed, T=6, fixed=seed == 1)
    if seed == 2:
        inst = inst.replace(max_products=2)
    mip = get_method("mip")
    opts = SolverOptions(threads=1, mip_gap=0.0)
    out = {}
    for form in ("strong", "bnb"):
        req = PlanRequest(
            scenarios=20, seed=seed, options=opts, params={"formulation": form, "start": "none"}
        )
        out[form] = mip(inst, req)
    s, b = out["strong"], out["bnb"]
    assert s.status == "optimal" and b.status == "optimal"
    assert b.objective == pytest.approx(s.objective, abs=1e-6)
    assert b.bound == pytest.approx(s.bound, abs=1e-6 * max(1.0, abs(s.objective)))
    st = sample_streams(inst, 20, seed)
    assert saa(inst, st, b.stock) == pytest.approx(s.objective, abs=1e-6)


@pytest.mark.parametrize("how", ["nodes", "time"])
def test_early_stop_keeps_a_valid_bound(how: str) -> None:
    inst = random_instance(3, seed=7, T=6, fixed=True)
    st = sample_streams(inst, 10, 5)
    top = int(st.customers_per_scenario.max())
    want, _ = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
    kw = {"max_nodes": 1} if how == "nodes" else {"time_limit": 1e-6}
    r = solve_stock_bnb(inst, st, mip_gap=0.0, **kw)
    assert r.status == "feasible"
    assert r.bound >= want - 1e-9
    assert want >= saa(inst, st, r.stock) - 1e-9
    assert r.objective == pytest.approx(saa(inst, st, r.stock), abs=1e-9)
    assert r.bound > r.objective  # stopped before certifying


def test_method_time_limit_holds_and_bound_is_valid() -> None:
    from assortopt.generators import generate

    inst = generate("dense", 10, 50, seed=1)
    req = PlanRequest(
        scenarios=20,
        seed=1,
        options=SolverOptions(threads=1, time_limit=2.0),
        params={"formulation": "bnb"},
    )
    mip = get_method("mip")
    mip(inst, dataclasses.replace(req, options=SolverOptions(time_limit=0.2)))  # compile kernels
    t0 = time.perf_counter()
    p = mip(inst, req)
    elapsed = time.perf_counter() - t0
    assert elapsed <= 2.0 * 1.5 + 1.0
    assert p.status == "feasible" and p.termination == "time_limit"
    st = sample_streams(inst, 20, 1)
    assert p.objective == pytest.approx(saa(inst, st, p.stock), abs=1e-9)
    assert p.bound >= p.objective


def test_method_refuses_highs_only_params() -> None:
    inst = random_instance(3, seed=1, T=5)
    req = PlanRequest(scenarios=5, params={"formulation": "bnb", "presolve": "on"})
    with pytest.raises(OptionError, match="bnb"):
        get_method("mip")(inst, req)


def test_buying_at_all_is_monotone_per_customer() -> None:
    """models/stock_bnb.md §3.4: one more unit never turns a buyer into a non-buyer."""
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(2, 5))
        lists = [list(rng.permutation(n)[: rng.integers(0, n + 1)]) for _ in range(10)]
        q = rng.integers(0, 3, n)
        q2 = q.copy()
        q2[int(rng.integers(n))] += 1

        def buyers(stock, lists=lists):
            left, out = np.array(stock), []
            for lst in lists:
                b = next((i for i in lst if left[i] > 0), None)
                if b is not None:
                    left[b] -= 1
                out.append(b is not None)
            return np.array(out)

        assert np.all(buyers(q2) >= buyers(q)), trial


@pytest.mark.parametrize("seed", range(5))
def test_price_bound_dominates_every_plan_in_the_box(seed: int) -> None:
    inst = random_instance(3, seed=20 + seed, T=7, fixed=seed % 2 == 0, salvage=seed == 3)
    st = sample_streams(inst, 6, seed)
    prob = StockProblem(inst, st, np.ones(inst.n, bool))
    rng = np.random.default_rng(seed)
    n_cust = prob.stream.offsets.shape[0] - 1
    for _ in range(8):
        lo = rng.integers(0, 3, inst.n)
        hi = lo + rng.integers(0, 4, inst.n)
        tab = prob.box(lo, hi)
        best, _ = exhaustive(inst, st, lo, tab.hi)
        gamma = float(rng.uniform(0, prob.gain.max()))
        # constant prices γ give back the γ-bound exactly (§3.4)
        ub_c, _, _ = prob.price_bound(tab, np.full(n_cust, gamma), 1, -np.inf)
        vals, const = tab.values(prob.gain, gamma)
        assert ub_c == pytest.approx(vals.max(axis=1).sum() + const, abs=1e-9)
        for mu in (rng.uniform(0, 2 * prob.gain.max(), n_cust), np.zeros(n_cust)):
            ub, q, mu2 = prob.price_bound(tab, mu, 6, best)
            assert ub >= best - 1e-9
            assert np.all(q >= lo) and np.all(q <= tab.hi) and np.all(mu2 >= 0)


@pytest.mark.parametrize("case", [0, 1, 2])
def test_certified_optimum_with_prices_equals_exhaustive(case: int) -> None:
    for seed in range(3):
        inst = random_instance(3, seed=40 + 10 * case + seed, T=6, **dict(CASES[case]))
        st = sample_streams(inst, 8, seed)
        top = int(st.customers_per_scenario.max())
        want, _ = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
        r = solve_stock_bnb(inst, st, mip_gap=0.0, price_steps=3, root_price_steps=10)
        assert r.status == "optimal"
        assert r.objective == pytest.approx(want, abs=1e-9)
        assert r.bound == pytest.approx(want, abs=1e-9)
        stopped = solve_stock_bnb(inst, st, mip_gap=0.0, price_steps=3, max_nodes=1)
        assert stopped.bound >= want - 1e-9 >= saa(inst, st, stopped.stock) - 2e-9


def test_mip_default_is_bnb_and_falls_back_to_strong_for_highs_only_calls(tmp_path) -> None:
    inst = random_instance(3, seed=3, T=5)
    mip = get_method("mip")
    opts = SolverOptions(threads=1, mip_gap=0.0)
    plain = mip(inst, PlanRequest(scenarios=8, seed=1, options=opts, params={"start": "none"}))
    assert plain.extra["formulation"] == "bnb"
    highs = PlanRequest(scenarios=8, seed=1, options=opts, params={"start": "none", "lp_first": 1})
    assert mip(inst, highs).extra["formulation"] == "strong"
    path = str(tmp_path / "m.lp")
    written = mip(inst, dataclasses.replace(highs, params={"start": "none"}, write_model=path))
    assert written.extra["formulation"] == "strong" and (tmp_path / "m.lp").exists()
    assert written.objective == pytest.approx(plain.objective, abs=1e-9)


def test_polish_plans_are_scored_and_cannot_break_the_result() -> None:
    """An improver handing back the exhaustive optimum is taken after one node; one handing
    back plans outside the box is ignored, and the search still certifies the exhaustive
    optimum."""
    inst = random_instance(3, seed=11, T=5, fixed=True)
    st = sample_streams(inst, 8, 2)
    top = int(st.customers_per_scenario.max())
    want, q_best = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
    good = solve_stock_bnb(inst, st, mip_gap=0.0, max_nodes=1, polish=lambda q, s: q_best)
    assert good.objective == pytest.approx(want, abs=1e-9)
    assert good.bound >= want - 1e-9
    bad = solve_stock_bnb(inst, st, mip_gap=0.0, polish=lambda q, s: np.full(3, 10**6))
    assert bad.status == "optimal"
    assert bad.objective == pytest.approx(want, abs=1e-9)
    assert saa(inst, st, bad.stock) == pytest.approx(want, abs=1e-9)


def expected_min_table(x: np.ndarray, w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list:
    """Per product j, [Σ_k w_k min(m, x_kj) for m = lo_j..hi_j] (plain Python)."""
    return [
        [sum(w[k] * min(m, x[k, j]) for k in range(len(w))) for m in range(lo[j], hi[j] + 1)]
        for j in range(len(lo))
    ]


def grid_bound(prob: StockProblem, d, e, lo, hi, steps: int = 8) -> tuple[float, np.ndarray]:
    """The γ-bound of models/stock_bnb.md §3.1 minimised on the grid of §3.1 (2·steps + 1 points
    on [0, max g], refined twice around the best point), from the sales tables d (j at hi_j,
    others at lo) and e (all at hi) of the shrunk box: the numpy formula of the search before
    it was compiled."""
    w, g = prob.weight, prob.gain
    up, low = expected_min_table(d, w, lo, hi), expected_min_table(e, w, lo, hi)
    total = float(w @ e.sum(axis=1))

    def at(gamma: float) -> tuple[float, np.ndarray]:
        val, q = gamma * total, lo.copy()
        for j in range(len(lo)):
            ms = np.arange(lo[j], hi[j] + 1)
            tab = np.array(up[j] if g[j] >= gamma else low[j])
            v = (g[j] - gamma) * tab - prob.net_cost[j] * ms - np.where(ms > 0, prob.fixed[j], 0)
            val += v.max()
            q[j] = ms[int(np.argmax(v))]
        return float(val), q

    if np.array_equal(lo, hi):
        return at(0.0)
    a, b, pts = 0.0, float(g.max()), 2 * steps + 1
    best_v, best_g = np.inf, 0.0
    for _ in range(3):
        gs = np.linspace(a, b, pts)
        vs = [at(x)[0] for x in gs]
        i = int(np.argmin(vs))
        if vs[i] < best_v:
            best_v, best_g = vs[i], float(gs[i])
        step = (b - a) / (pts - 1)
        a, b = max(0.0, gs[i] - step), gs[i] + step
    return at(best_g)


def column_sales(st: Stream, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """d[k, j] = S_kj(hi_j, lo_{-j}) by replay."""
    d = np.zeros((st.n_scenarios, len(lo)), dtype=np.int64)
    for j in range(len(lo)):
        q = lo.copy()
        q[j] = hi[j]
        d[:, j] = replay_sales(q, st)[:, j]
    return d


def check_node(prob: StockProblem, inst, st, lo, hi, out) -> None:
    """The compiled node's output against the replay + numpy truth (module docstring)."""
    ub, q, hi2, tables, v, point = out
    d = column_sales(prob.stream, lo, hi)
    assert np.array_equal(np.minimum(tables[0], hi[None, :]), d)
    want_hi = np.minimum(hi, np.maximum(lo, d.max(axis=0)))  # §3.2
    assert np.array_equal(hi2, want_hi)
    e = replay_sales(hi2, prob.stream)
    assert np.array_equal(tables[2], e)
    want, q_want = grid_bound(prob, np.minimum(d, hi2[None, :]), e, lo, hi2)
    assert ub == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert np.array_equal(q, q_want)
    assert point == bool(np.array_equal(lo, hi2))
    assert v == pytest.approx(saa(inst, st, q), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_node_matches_the_replayed_formula(seed: int) -> None:
    inst = random_instance(5, seed=60 + seed, T=9, fixed=seed % 2 == 0, salvage=seed == 1)
    st = sample_streams(inst, 7, seed)
    prob = StockProblem(inst, st, np.ones(inst.n, bool))
    top = prob.interested()
    rng = np.random.default_rng(seed)
    for _ in range(6):
        lo = (rng.random(inst.n) * top * 0.6).astype(np.int64)
        hi = lo + (rng.random(inst.n) * top * 0.6).astype(np.int64)
        out = prob.node(lo, hi, None, 8)
        check_node(prob, inst, st, lo, hi, out)
        best, _ = exhaustive(inst, st, lo, out[2])
        assert out[0] >= best - 1e-9
        # a chain of random children, each from its parent's tables (§4)
        for _ in range(6):
            lo_p, hi_p, tables = lo, out[2], out[3]
            free = np.flatnonzero(hi_p > lo_p)
            if not len(free):
                break
            j = int(rng.choice(free))
            s = int(rng.integers(lo_p[j], hi_p[j]))
            if rng.random() < 0.5:
                lo, hi = lo_p, hi_p.copy()
                hi[j] = s
                out = prob.node(lo, hi, (*tables, -1), 8)
            else:
                lo, hi = lo_p.copy(), hi_p
                lo[j] = s + 1
                out = prob.node(lo, hi, (*tables, j), 8)
            check_node(prob, inst, st, lo, hi, out)


def test_carried_tables_do_not_change_the_search() -> None:
    from assortopt.generators import generate

    inst = generate("mnl", 8, 30, seed=2)
    st = sample_streams(inst, 12, 2)
    runs = {}
    for mode in (True, "lo", False):
        r = solve_stock_bnb(inst, st, max_nodes=400, reuse_sales=mode)
        runs[mode] = r
    for mode in ("lo", False):
        assert runs[mode].nodes == runs[True].nodes
        assert runs[mode].bound == pytest.approx(runs[True].bound, rel=1e-12)
        assert runs[mode].objective == pytest.approx(runs[True].objective, rel=1e-12)
        assert np.array_equal(runs[mode].stock, runs[True].stock)
    assert runs[True].extra["runs"] < runs["lo"].extra["runs"] < runs[False].extra["runs"]


@pytest.mark.parametrize("branching", ["bound-point", "pseudocost"])
@pytest.mark.parametrize("workers", [1, 2])
def test_workers_and_branching_certify_the_exhaustive_optimum(workers, branching) -> None:
    """Two workers (the two best boxes split at once) and pseudo-cost branching change the
    order of the search, not its answer: the exhaustive SAA optimum, and a bound ≥ it when
    stopped after a few nodes."""
    paired = 0
    for seed in range(3):
        inst = random_instance(3, seed=70 + seed, T=8, fixed=True)
        st = sample_streams(inst, 8, seed)
        top = int(st.customers_per_scenario.max())
        want, _ = exhaustive(inst, st, np.zeros(3, int), np.full(3, top))
        r = solve_stock_bnb(inst, st, mip_gap=0.0, workers=workers, branching=branching)
        paired += r.extra.get("paired_splits", 0)
        assert r.status == "optimal" and r.objective == pytest.approx(want, abs=1e-9)
        assert saa(inst, st, r.stock) == pytest.approx(want, abs=1e-9)
        early = solve_stock_bnb(inst, st, max_nodes=3, workers=workers, branching=branching)
        assert early.bound >= want - 1e-9 >= early.objective - 2e-9
    assert (paired > 0) == (workers == 2)  # the second thread did bound boxes
