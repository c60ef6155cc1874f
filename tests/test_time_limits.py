"""Time limits hold (README.md, "Time limits"): every phase gets what is left of the limit.

The checks are on the clock handling itself (a phase that is skipped, given up or handed the
time left) rather than on wall times, except for generous end-to-end bounds where a timing is
the property: `gap` and `fit` under a tiny limit end within L + max(0.1·L, 2 s).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

import assortopt.fit.chain as fit_chain
import assortopt.gap as gap_mod
import assortopt.methods.spill_mip as spill_method
import assortopt.models.spill_mip as spill_models
from assortopt.api import solve
from assortopt.exceptions import OptionError, SolverError
from assortopt.fit import fit_markov_chain, sample_sales
from assortopt.generators import generate
from assortopt.models.formulation import Formulation
from assortopt.models.scenario_data import first_choice_counts
from assortopt.models.spill_mip import build_spill_mip, complete_start
from assortopt.solver import SolverOptions
from assortopt.solver.highs import SolveResult, highs_from_lp, run
from assortopt.solver.status import ERROR, FEASIBLE, Termination


def allowance(limit: float) -> float:
    return limit + max(0.1 * limit, 2.0)


# ----------------------------------------------------------------------------- spill-mip
def test_complete_start_gives_up_at_its_deadline(chocolate) -> None:
    counts = first_choice_counts(chocolate, None, 8, 1)
    f = build_spill_mip(chocolate, counts)
    q = np.ones(len(f.info["products"]), np.int64)
    full = complete_start(f, q)
    assert full is not None
    np.testing.assert_array_equal(complete_start(f, q, time.perf_counter() + 60.0), full)
    assert complete_start(f, q, time.perf_counter() - 1.0) is None


def test_spill_mip_too_big_skips_the_start_completion(chocolate, monkeypatch) -> None:
    """When HiGHS could not set the MIP up in the time left, the (slow) completion of its start
    is not even begun, and the warm start's plan is the answer."""

    def never(*a, **k):
        raise AssertionError("complete_start ran although the MIP will not")

    monkeypatch.setattr(spill_method, "complete_start", never)
    monkeypatch.setattr(spill_method, "too_big_for", lambda *a: "HiGHS's setup is too slow")
    sol = solve(chocolate, "spill-mip", scenarios=10, eval_reps=0, time_limit=30.0)
    heur = solve(chocolate, "heuristic", scenarios=10, eval_reps=0, time_limit=15.0)
    assert sol.status == FEASIBLE and sol.plan.termination is Termination.TIME_LIMIT
    assert "HiGHS's setup is too slow" in sol.plan.message
    np.testing.assert_array_equal(sol.stock, heur.stock)


def test_spill_mip_without_incumbent_returns_the_warm_start(chocolate, monkeypatch) -> None:
    """A MIP stopped by the clock with no incumbent (its start not completed in time) falls
    back to the warm start's plan, not to an empty plan."""
    monkeypatch.setattr(spill_method, "complete_start", lambda f, q, deadline=None: None)

    def stopped(self, options=None, start=None, write=None):
        assert start is None
        return SolveResult(status=ERROR, termination=Termination.TIME_LIMIT, message="cut")

    monkeypatch.setattr(Formulation, "solve", stopped)
    sol = _gives_the_warm_start(chocolate, "not completed in time")
    assert sol.stock.sum() > 0


def _gives_the_warm_start(inst, why: str):
    """spill-mip under a 30 s limit returns its warm start (the heuristic with the half it gets),
    as a time-limited feasible plan whose message says ``why``."""
    sol = solve(inst, "spill-mip", scenarios=10, eval_reps=0, time_limit=30.0)
    heur = solve(inst, "heuristic", scenarios=10, eval_reps=0, time_limit=15.0)
    assert sol.status == FEASIBLE and sol.plan.termination is Termination.TIME_LIMIT
    assert why in sol.plan.message
    np.testing.assert_array_equal(sol.stock, heur.stock)
    return sol


# ----------------------------------------------------------------------------- HiGHS
def test_run_counts_the_model_loading_against_the_limit(chocolate) -> None:
    f = build_spill_mip(chocolate, first_choice_counts(chocolate, None, 5, 0))
    opts = SolverOptions(time_limit=1.0)
    h = highs_from_lp(f.lp, opts)
    run(h, opts, since=time.perf_counter() - 0.9995)  # the limit is all but spent
    assert _option(h, "time_limit") <= 0.002
    h2 = highs_from_lp(f.lp, opts)
    run(h2, opts)  # no start given: the whole limit
    assert _option(h2, "time_limit") == pytest.approx(1.0)


def _option(h, name: str) -> float:
    v = h.getOptionValue(name)
    return float(v[1] if isinstance(v, tuple) else v)


# ----------------------------------------------------------------------------- gap
def test_gap_time_limit_covers_all_replications(chocolate, monkeypatch) -> None:
    seen: list[tuple[float, float]] = []
    t0 = time.perf_counter()

    def slow(inst, q, scenarios, seed, model, options):
        seen.append((options.time_limit, time.perf_counter() - t0))
        time.sleep(0.15)
        return 1.0, 0.9, True

    monkeypatch.setattr(gap_mod, "replication_gap", slow)
    stock = np.ones(chocolate.n, np.int64)
    with pytest.raises(SolverError, match=r"ran out after \d+ of 10 replications"):
        gap_mod.gap_ci(chocolate, stock, replications=10, scenarios=5, time_limit=0.5)
    assert 2 <= len(seen) < 10
    assert seen[0][0] == pytest.approx(0.05, rel=0.2)  # the time left over the 10 left
    for limit, at in seen:  # never more than what is left of the whole limit
        assert limit <= 0.5 - at + 1e-3
    seen.clear()
    t0 = time.perf_counter()
    est = gap_mod.gap_ci(chocolate, stock, replications=3, scenarios=5, time_limit=5.0)
    call_s = time.perf_counter() - t0
    assert est is not None and est.replications == 3
    assert 3 * 0.15 <= est.wall_s <= call_s  # the reported wall covers the replications
    assert est.to_dict()["wall_s"] == est.wall_s
    assert seen[0][0] == pytest.approx(5.0 / 3, rel=0.05)
    for limit, at in seen:
        assert limit <= 5.0 - at + 1e-3


def test_gap_real_solves_end_within_the_allowance(chocolate) -> None:
    plan = solve(chocolate, "heuristic", scenarios=10, eval_reps=0).stock
    for limit in (0.01, 1.0):
        t = time.perf_counter()
        try:
            gap_mod.gap_ci(chocolate, plan, replications=4, scenarios=10, time_limit=limit)
        except Exception as exc:  # an honest failure is allowed, a late one is not
            assert "time-limit" in str(exc)
        assert time.perf_counter() - t <= allowance(limit)


def _stingy_solve(monkeypatch, call: int) -> list[bool]:
    """Make the ``call``-th `Formulation.solve` stop at once (HiGHS time limit 1e-9 s); returns
    a list recording, per call, whether it got a start."""
    orig = Formulation.solve
    calls: list[bool] = []

    def solve_(self, options=None, start=None, **kw):
        calls.append(start is not None)
        if len(calls) == call:
            options = dataclasses.replace(options or SolverOptions(), time_limit=1e-9)
        return orig(self, options, start=start, **kw)

    monkeypatch.setattr(Formulation, "solve", solve_)
    return calls


def test_gap_valuation_cut_short_keeps_the_plans_sell_first_start(monkeypatch) -> None:
    """Valuing a plan in the spill MIP (stock fixed) used to fail whenever HiGHS found no
    solution in its share of the time (mnl-n50-t100 under mpiexec at 20 s: every replication);
    now it starts from the plan's sell-first second stage, so a cut valuation still gives a
    lower bound on the plan's value (the gap stays an overestimate) and counts as open."""
    inst = generate("mnl", 8, 30, seed=3)
    plan = solve(inst, "heuristic", scenarios=10, eval_reps=0).stock
    opts = SolverOptions(mip_gap=1e-9, threads=1, time_limit=60)
    z, zhat, proven = gap_mod.replication_gap(inst, plan, 10, 7, "spill-mip", opts)
    assert proven
    calls = _stingy_solve(monkeypatch, 1)  # the valuation comes first
    z2, zhat2, proven2 = gap_mod.replication_gap(inst, plan, 10, 7, "spill-mip", opts)
    assert calls == [True, True]  # valuation from the start, SAA solve from the valuation
    assert not proven2
    assert zhat2 <= zhat + 1e-6 and np.isfinite(zhat2)
    assert z2 == pytest.approx(z, rel=1e-9)  # the SAA optimum is untouched
    monkeypatch.setattr(spill_models, "complete_start", lambda *a, **k: None)
    calls.clear()
    with pytest.raises(SolverError, match="valuing the plan"):  # no start: no estimate
        gap_mod.replication_gap(inst, plan, 10, 7, "spill-mip", opts)


def test_gap_saa_solve_without_a_bound_is_no_solution(monkeypatch) -> None:
    """An SAA solve stopped before its root has an incumbent (the plan) but an infinite bound:
    no estimate, one line, instead of a non-finite gap in the JSON (which crashed the writer)."""
    inst = generate("mnl", 8, 30, seed=3)
    plan = solve(inst, "heuristic", scenarios=10, eval_reps=0).stock
    _stingy_solve(monkeypatch, 2)
    with pytest.raises(OptionError, match="found no solution"):
        gap_mod.replication_gap(inst, plan, 10, 7, "spill-mip", SolverOptions(time_limit=60))


# ----------------------------------------------------------------------------- fit
def test_fit_budget_shares_the_limit() -> None:
    left = fit_chain.fit_budget(1.0, 4)
    shares = [left("em") for _ in range(4)]
    assert shares[0] == pytest.approx((1 - fit_chain.FIT_RESERVE) / 4, rel=0.05)
    # runs that end at once leave their time to the next; the last may use the whole share
    assert shares == sorted(shares) and shares[-1] <= 1 - fit_chain.FIT_RESERVE
    assert left("independent") <= 1.0
    assert fit_chain.fit_budget(None, 4)("em") is None


def test_fit_hands_every_em_run_only_the_time_left(monkeypatch) -> None:
    truth = generate("sparse", 8, 100, seed=2, k=3)
    sales = sample_sales(truth, 20000, seed=4, mean_out=1, record_no_purchase=False)
    calls: list[tuple[float, float]] = []
    real = fit_chain.fit_em
    t0 = time.perf_counter()

    def spy(*a, **k):
        calls.append((k["time_limit"], time.perf_counter() - t0))
        return real(*a, **k)

    monkeypatch.setattr(fit_chain, "fit_em", spy)
    limit = 0.3
    cat = [{"id": p, "price": 4.0, "cost": 2.0} for p in truth.ids]
    inst, _ = fit_markov_chain(
        sales, cat, 50, buy_share=0.5, time_limit=limit, tol=0.0, max_iter=10**6, progress=False
    )
    wall = time.perf_counter() - t0
    assert len(calls) == 1 + fit_chain.IMPUTE_ROUNDS + 1  # chain runs, then the comparison
    for lim, at in calls:
        assert lim <= max(limit - at, 0.0) + 1e-3
    assert inst.n == truth.n
    assert wall <= allowance(limit)


# ----------------------------------------------------------------------------- decomposition
def _sparse_case():
    inst = generate("sparse", 30, 60, seed=3, k=3)
    d = first_choice_counts(inst, None, 8, seed=1)
    return inst, d


def test_greedy_oracle_stops_at_its_deadline() -> None:
    from assortopt.choice.mc import drop_self_loops
    from assortopt.models.saa_decomposition import _OutOfTime, greedy_oracle

    inst, d = _sparse_case()
    chain = drop_self_loops(inst.transitions)
    rev = inst.price - inst.salvage
    q = np.ones(inst.n)
    g, *_ = greedy_oracle(chain, d, q, rev, deadline=time.perf_counter() + 60.0)
    np.testing.assert_allclose(g, greedy_oracle(chain, d, q, rev)[0])
    with pytest.raises(_OutOfTime):
        greedy_oracle(chain, d, q, rev, deadline=time.perf_counter() - 1.0)


def test_benders_at_a_spent_deadline_says_time_limit() -> None:
    """A deadline that passes inside the first valuation ends the run with termination
    time_limit and no incumbent value (-inf), which `solve_saa_lp` reports as not optimal."""
    from assortopt.choice.mc import drop_self_loops
    from assortopt.models.saa_decomposition import benders
    from assortopt.models.saa_lp import solve_saa_lp

    inst, d = _sparse_case()
    chain = drop_self_loops(inst.transitions)
    rev, ucost = inst.price - inst.salvage, inst.cost - inst.salvage
    _, f, sales, st, term = benders(
        chain, d, rev, ucost, inst.cost, None, deadline=time.perf_counter() - 1.0
    )
    assert term is Termination.TIME_LIMIT and f == -np.inf and "valuing the start" in st.message
    assert sales.shape == d.shape
    full = benders(chain, d, rev, ucost, inst.cost, None, tol=1e-6)
    assert full[4] is Termination.OPTIMAL and np.isfinite(full[1])
    res = solve_saa_lp(
        inst, d, method="decomposition", options=SolverOptions(time_limit=1e-9), tol=1e-6
    )
    assert res.status == ERROR and res.termination is Termination.TIME_LIMIT


# ----------------------------------------------------------------------------- mip (bnb)
def test_bnb_does_not_start_when_the_warm_start_used_the_limit(chocolate, monkeypatch) -> None:
    """The branch-and-bound's root can take seconds at N = 1,000: with no time left after the
    warm start it is not begun, and the start's plan is the answer."""
    import assortopt.methods.mip_bnb as bnb

    def never(*a, **k):
        raise AssertionError("the branch-and-bound started with no time left")

    monkeypatch.setattr(bnb, "solve_stock_bnb", never)
    stock = solve(chocolate, "heuristic", scenarios=10, eval_reps=0).stock
    from assortopt.methods.base import PlanRequest

    req = PlanRequest(scenarios=10, options=SolverOptions(time_limit=0.5))
    t0 = time.perf_counter() - 1.0  # the call started a second ago: its 0.5 s are gone
    plan = bnb.plan_bnb(chocolate, req, None, stock, "heuristic", t0)
    assert plan.status == FEASIBLE and plan.termination is Termination.TIME_LIMIT
    assert "branch-and-bound" in plan.message
    np.testing.assert_array_equal(plan.stock, stock)
    plan = bnb.plan_bnb(chocolate, req, None, None, "heuristic failed", t0)
    assert plan.status == ERROR and plan.termination is Termination.TIME_LIMIT
    assert plan.stock.sum() == 0


def test_spill_mip_not_started_when_its_root_lp_cannot_finish(chocolate, monkeypatch) -> None:
    """HiGHS cannot stop a MIP's root LP on time: when the relaxation, timed first, does not
    finish in its share, the MIP is not started and the warm start's plan is the answer."""

    def never(*a, **k):
        raise AssertionError("the MIP started although its relaxation did not finish")

    def unfinished(lp, options=None, start=None, write=None):
        assert not lp.is_mip and options.time_limit < 30.0 / 2
        return SolveResult(status=ERROR, termination=Termination.TIME_LIMIT)

    monkeypatch.setattr(spill_method, "solve_lp", unfinished)
    monkeypatch.setattr(Formulation, "solve", never)
    _gives_the_warm_start(chocolate, "LP relaxation did not finish")


def test_spill_mip_bound_is_at_most_its_relaxation(chocolate) -> None:
    """With a limit the relaxation's value is a valid bound on the MIP (never below its value)."""
    sol = solve(chocolate, "spill-mip", scenarios=10, eval_reps=0, time_limit=30.0)
    assert sol.plan.bound is not None and sol.plan.bound >= sol.plan.objective - 1e-6


# ----------------------------------------------------------------------------- command line
def test_cli_gap_and_fit_time_limits(chocolate_path, tmp_path, capsys) -> None:
    """`gap --time-limit` ends within the allowance (an estimate or one line saying why not);
    `fit --time-limit 0` is refused before any data is read (exit 2, one line)."""
    from assortopt.cli import main

    sol = tmp_path / "sol.json"
    assert main(["solve", str(chocolate_path), "-k", "10", "--eval-reps", "0", "-o", str(sol)]) == 0
    capsys.readouterr()
    t = time.perf_counter()
    rc = main(["gap", str(chocolate_path), str(sol), "-r", "4", "-k", "10", "--time-limit", "0.01"])
    assert time.perf_counter() - t <= allowance(0.01)
    err = capsys.readouterr().err
    assert rc == 0 or (rc in (1, 2) and len(err.strip().splitlines()) == 1 and "time" in err)
    missing = tmp_path / "no-such-sales.csv"
    rc = main(
        [
            "fit",
            str(missing),
            "--catalogue",
            str(missing),
            "-t",
            "50",
            "-o",
            str(tmp_path / "i.json"),
            "--time-limit",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "--time-limit" in err and len(err.strip().splitlines()) == 1


def test_heuristic_keeps_its_fallback_plan_when_the_saa_lp_is_cut() -> None:
    """A decomposition stopped before it valued its start (objective -inf) must not make the
    heuristic drop the spill-newsvendor stock it falls back to: the plan is that stock, with its
    own (finite) value, not an empty plan."""
    from pathlib import Path

    from assortopt.instance import load_instance

    inst = load_instance(Path(__file__).parents[1] / "instances" / "tiny-sparse-n4-t8.json")
    full = solve(inst, "heuristic", eval_reps=0)
    assert full.stock.sum() > 0
    # only the SAA-LP is cut (its own limit); plain rounding keeps the quantities' value
    params = {"saa_time_limit": 1e-6, "rounding": "nearest"}
    cut = solve(inst, "heuristic", eval_reps=0, params=params)
    assert cut.plan.termination is Termination.TIME_LIMIT
    assert "spill stock instead" in cut.plan.message
    assert cut.stock.sum() > 0 and np.isfinite(cut.plan.objective)


# ----------------------------------------------------------------------------- monolithic SAA-LP
def test_monolithic_saa_lp_too_large_for_the_time_left_is_refused_before_building(
    monkeypatch,
) -> None:
    """Building and loading the monolithic SAA-LP cannot be interrupted: a probe build of one
    scenario prices it, and with less time left than that the solve ends at once with error /
    time_limit and no stock; the same LP with time to spare is solved to optimality."""
    from assortopt.models import saa_lp

    inst, d = _sparse_case()
    built: list[int] = []
    real = saa_lp.build_saa_lp

    def counting(inst_, counts, *a, **k):
        built.append(counts.shape[0])
        return real(inst_, counts, *a, **k)

    monkeypatch.setattr(saa_lp, "build_saa_lp", counting)
    tiny = SolverOptions(time_limit=1e-7)
    res = saa_lp.solve_saa_lp(inst, d, method="monolithic", options=tiny)
    assert res.status == ERROR and res.termination is Termination.TIME_LIMIT
    assert "would take about" in res.message and not res.stock_frac.any()
    assert built == [1]  # only the one-scenario probe was built
    roomy = SolverOptions(time_limit=60.0)
    ok = saa_lp.solve_saa_lp(inst, d, method="monolithic", options=roomy)
    assert ok.status == "optimal" and ok.termination is Termination.OPTIMAL


def test_an_interrupt_at_the_deadline_is_a_time_limit_for_every_caller() -> None:
    """`run` stops HiGHS by its interrupt callback once the deadline passes; `outcome` (used by
    `solve_lp` and the SAA-LP alike) reports that as time_limit, a user's interrupt as
    interrupted."""
    import highspy

    from assortopt.solver.highs import outcome

    class Stopped:
        def __init__(self, at_deadline: bool) -> None:
            self.assortopt_deadline_hit = at_deadline

        def getModelStatus(self):
            return highspy.HighsModelStatus.kInterrupt

        def modelStatusToString(self, ms):
            return "Interrupted by user"

        def getInfo(self):
            class Info:
                primal_solution_status = 0

            return Info()

    status, term, msg = outcome(Stopped(True))
    assert status == ERROR and term is Termination.TIME_LIMIT and "time limit" in msg
    assert outcome(Stopped(False))[1] is Termination.INTERRUPTED


def test_monolithic_saa_lp_skips_a_presolve_that_would_outlast_the_limit(monkeypatch) -> None:
    """HiGHS's presolve of a huge SAA-LP cannot be interrupted: when its price (a multiple of
    the build time) exceeds the time left, HiGHS runs without it, and reaches the same optimum;
    a caller's own presolve setting and runs without a limit are left alone."""
    from assortopt.models import saa_lp

    inst, d = _sparse_case()
    seen: list[dict] = []
    real = saa_lp._run

    def spy(lp, options):
        seen.append(dict(options.highs))
        return real(lp, options)

    monkeypatch.setattr(saa_lp, "_run", spy)
    with_presolve = saa_lp.solve_saa_lp(inst, d, method="monolithic")
    monkeypatch.setattr(saa_lp, "PRESOLVE_FACTOR", 1e12)
    without = saa_lp.solve_saa_lp(
        inst, d, method="monolithic", options=SolverOptions(time_limit=60.0)
    )
    own = saa_lp.solve_saa_lp(
        inst,
        d,
        method="monolithic",
        options=SolverOptions(time_limit=60.0, highs={"presolve": "on"}),
    )
    assert seen == [{}, {"presolve": "off"}, {"presolve": "on"}]
    assert "presolve" in without.extra and "presolve" not in own.extra
    assert without.status == with_presolve.status == "optimal"
    assert without.objective == pytest.approx(with_presolve.objective, rel=1e-7)
