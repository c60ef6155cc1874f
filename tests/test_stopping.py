"""The LP bound by optimal stopping (policy iteration, budget Lagrangian) against HiGHS's
vertex: the same value to 1e-9 relative, the same assortment S* and the same π."""

from __future__ import annotations

import glob
import json

import numpy as np
import pytest
from factories import random_instance

import assortopt.bound as lpb
from assortopt.exceptions import OptionError
from assortopt.instance import load_instance
from assortopt.solver import SolverOptions
from assortopt.stopping import StoppingFailed


def assert_feasible(inst, b):
    """(π, z) satisfies the balance rows and the budget, and its objective is b.value."""
    assert b.pi.min() >= 0 and b.z.min() >= 0
    res = b.pi + b.z - inst.transitions.T @ b.z - inst.arrival
    assert np.abs(res).max() <= 1e-9
    t = inst.customers_mean
    if inst.budget is not None:
        assert t * float(inst.cost @ b.pi) <= inst.budget * (1 + 1e-9)
    assert t * float(inst.margin @ b.pi) == pytest.approx(b.value, rel=1e-9)


def assert_same(inst, rtol=1e-9, pi_atol=1e-9, same_pi=True):
    a = lpb.lp_bound(inst, method="stopping")
    b = lpb.lp_bound(inst, method="highs")
    assert a.status == b.status == "optimal"
    assert a.method == "stopping" and b.method == "highs"
    assert a.value == pytest.approx(b.value, rel=rtol, abs=1e-12)
    assert a.assortment == b.assortment
    np.testing.assert_array_equal(a.offered, b.offered)
    assert_feasible(inst, a)
    pos = inst.margin > 0  # a zero-margin product may or may not be in a vertex's support
    if same_pi:
        np.testing.assert_allclose(a.pi[pos], b.pi[pos], atol=pi_atol)
    assert a.budget_row == b.budget_row
    return a, b


@pytest.mark.parametrize("n,seed", [(5, 0), (12, 1), (40, 2), (200, 3), (1500, 4), (3000, 5)])
def test_same_as_highs_without_budget(n, seed):
    a, b = assert_same(random_instance(n, seed, k=4))
    np.testing.assert_allclose(a.v, b.v, atol=1e-9)  # both are the stopping values of S*


@pytest.mark.parametrize("n,seed", [(6, 0), (15, 1), (60, 2), (300, 3), (1200, 4)])
@pytest.mark.parametrize("frac", [0.15, 0.5, 0.9, 2.0])
def test_same_as_highs_with_budget(n, seed, frac):
    inst = random_instance(n, seed, k=4)
    spent = inst.customers_mean * float(inst.cost @ lpb.lp_bound(inst, method="highs").pi)
    inst = inst.replace(budget=frac * spent)
    a, _ = assert_same(inst)
    used = inst.customers_mean * float(inst.cost @ a.pi)
    assert used <= inst.budget * (1 + 1e-9)
    if frac < 1:  # a binding row is met with equality (the mixture of two policies)
        assert used == pytest.approx(inst.budget, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_zero_margin_products(seed):
    inst = random_instance(80, seed, k=4)
    rng = np.random.default_rng(seed)
    zero = rng.random(inst.n) < 0.3
    inst = inst.replace(cost=np.where(zero, inst.price, inst.cost))
    assert_same(inst)
    spent = inst.customers_mean * float(inst.cost @ lpb.lp_bound(inst, method="highs").pi)
    assert_same(inst.replace(budget=0.4 * spent))


@pytest.mark.parametrize("seed", range(3))
def test_customers_almost_never_leave(seed):
    # every row sums to 1 − 1e-9: walks are long, values average margins over the chain
    inst = random_instance(150, seed, k=3, stay=(1 - 1e-9, 1 - 1e-9))
    assert inst.exit_prob.max() < 2e-9
    assert_same(inst, pi_atol=1e-8)
    spent = inst.customers_mean * float(inst.cost @ lpb.lp_bound(inst, method="highs").pi)
    assert_same(inst.replace(budget=0.3 * spent), pi_atol=1e-8)


INSTANCES = sorted(p for p in glob.glob("instances/*.json") if not p.endswith(".online.json"))


@pytest.mark.parametrize("path", INSTANCES)
def test_shipped_instances(path):
    with open(path) as fh:
        if json.load(fh).get("format", "").startswith("assortopt-choice"):
            pytest.fail(f"{path} is not an instance")
    inst = load_instance(path)
    # where every margin is the same multiple of cost (vertical family) a binding budget
    # leaves a whole face of optima: the same value and S*, but π need not be the same vertex
    ratio = inst.margin / np.where(inst.cost > 0, inst.cost, np.nan)
    tied = inst.budget is not None and np.nanmax(ratio) - np.nanmin(ratio) < 1e-12
    assert_same(inst, same_pi=not tied)


def test_auto_uses_stopping_and_dual_is_bellman():
    inst = random_instance(300, 7, k=5)
    a = lpb.lp_bound(inst)
    assert a.method == "stopping" and a.message == ""
    np.testing.assert_allclose(a.v, np.maximum(inst.margin, inst.transitions @ a.v), atol=1e-10)
    assert a.to_dict()["method"] == "stopping"


def test_auto_falls_back_to_highs(monkeypatch):
    inst = random_instance(30, 8)

    def broken(*args, **kwargs):
        raise StoppingFailed("broken on purpose")

    monkeypatch.setattr(lpb, "unconstrained_stopping", broken)
    b = lpb.lp_bound(inst)
    assert b.status == "optimal" and b.method == "highs"
    assert "broken on purpose" in b.message and "HiGHS" in b.message
    assert b.value == pytest.approx(lpb.lp_bound(inst, method="highs").value, rel=1e-12)
    assert lpb.lp_bound(inst, method="stopping").status == "error"


def test_time_limit_and_bad_method():
    inst = random_instance(2000, 9, k=4)
    b = lpb.lp_bound(inst, SolverOptions(time_limit=1e-9))
    assert (b.status, b.termination) == ("error", "time_limit") and b.value == float("inf")
    with pytest.raises(OptionError):
        lpb.lp_bound(inst, method="simplex")


def test_highs_time_limit_covers_both_attempts(monkeypatch):
    # the interior point attempt "fails" and uses up the time: no simplex attempt afterwards
    import time

    inst = random_instance(40, 10)
    calls = []
    real = lpb.solve_lp

    def slow_fail(lp, opts):
        calls.append(opts.time_limit)
        res = real(lp, opts)
        time.sleep(0.3)
        res.status = "error"
        return res

    monkeypatch.setattr(lpb, "solve_lp", slow_fail)
    b = lpb.lp_bound(inst, SolverOptions(time_limit=0.2), method="highs")
    assert (b.status, b.termination) == ("error", "time_limit") and b.value == float("inf")
    assert len(calls) == 1 and calls[0] <= 0.2
