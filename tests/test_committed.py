"""Committed stock: every method keeps committed units; the best plan around a commitment is
the brute-force best over the free products' stock; the committed LP bound stays a bound."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from factories import random_instance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assortopt
from assortopt.commitment import commitment_from_stock, impose
from assortopt.exact import profit_table
from assortopt.exceptions import InstanceError, OptionError
from assortopt.methods.base import PlanRequest, get_method, list_methods
from assortopt.methods.rounding import check_plan
from assortopt.models import build
from assortopt.sampling import sample_streams
from assortopt.simulation import simulate_stream
from assortopt.solver import SolverOptions
from assortopt.solver.status import holds_plan

OPTS = SolverOptions(threads=1)
METHODS = sorted(m for m in list_methods() if m != "waves")


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 4),
    units=st.lists(st.integers(-1, 4), min_size=4, max_size=4),
    cap=st.sampled_from([None, 2]),
    tight=st.booleans(),
)
def test_committed_units_never_change(seed, n, units, cap, tight):
    base = random_instance(n, seed, T=8, max_products=cap)
    committed = np.array(units[:n], np.int64)
    spend = float(base.cost @ np.maximum(committed, 0))
    inst = base.replace(budget=spend + 0.5 * float(base.cost.sum())) if tight else base
    for method in METHODS:
        req = PlanRequest(scenarios=8, seed=seed, options=OPTS, committed=committed)
        plan = get_method(method)(inst, req)
        fixed = committed >= 0
        if not holds_plan(plan.status):
            # refused only when the commitment alone breaks a constraint
            assert cap is not None and int((committed > 0).sum()) > cap, (method, plan.message)
            continue
        np.testing.assert_array_equal(plan.stock[fixed], committed[fixed], err_msg=method)
        assert not check_plan(inst, plan.stock), (method, check_plan(inst, plan.stock))


@pytest.mark.parametrize("method", METHODS)
def test_everything_committed_returns_the_commitment(method):
    inst = random_instance(4, 5, T=10)
    committed = np.array([3, 0, 1, 2], np.int64)
    req = PlanRequest(scenarios=8, seed=2, options=OPTS, committed=committed)
    plan = get_method(method)(inst, req)
    assert holds_plan(plan.status), plan.message
    np.testing.assert_array_equal(plan.stock, committed)


def _brute_force(inst, stream, committed, top):
    """Best sample-average profit over the free products' stock in [0, top]."""
    free = np.flatnonzero(committed < 0)
    best, arg = -np.inf, None
    for combo in itertools.product(range(top + 1), repeat=len(free)):
        q = np.maximum(committed, 0).copy()
        q[free] = combo
        if check_plan(inst, q):
            continue
        v = float(simulate_stream(inst, q, stream).profits.mean())
        if v > best + 1e-12:
            best, arg = v, q
    return best, arg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mip_around_commitment_equals_brute_force(seed):
    inst = random_instance(3, 40 + seed, T=6, budget=None if seed else 30.0)
    committed = np.array([2, -1, -1], np.int64) if seed != 1 else np.array([-1, 0, 9], np.int64)
    k = 12
    req = PlanRequest(scenarios=k, seed=seed, options=OPTS, committed=committed)
    plan = get_method("mip")(inst, req)
    assert plan.status == "optimal", plan.message
    stream = sample_streams(inst, k, seed)  # the streams the method plans on
    best, _ = _brute_force(inst, stream, committed, top=6)
    own = float(simulate_stream(inst, plan.stock, stream).profits.mean())
    assert own == pytest.approx(best, abs=1e-9)
    assert plan.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    # the same model through build(committed=...)
    f = build("sample_path_mip", inst, scenarios=k, seed=seed, committed=committed)
    res = f.solve(OPTS)
    np.testing.assert_array_equal(f.plan(res).stock[committed >= 0], committed[committed >= 0])
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6)


def test_committed_lp_bound_is_a_bound_on_the_exact_best_around_it():
    inst = random_instance(3, 7, T=5)
    committed = np.array([1, -1, 0], np.int64)
    table = profit_table(inst, [1, 5, 0])  # the exact DP over every plan keeping the commitment
    best = float(table[1, :, 0].max())
    b = assortopt.lp_bound(inst, committed=committed)
    free = assortopt.lp_bound(inst)
    assert b.status == "optimal"
    assert best <= b.value + 1e-9
    assert b.value <= free.value + 1e-9
    assert "p0" in b.assortment and "p2" not in b.assortment
    f = build("lp_bound", inst, committed=committed)
    assert f.solve(OPTS).objective == pytest.approx(b.value, rel=1e-9)


def test_impose_keeps_commitment_and_repairs_free_products():
    inst = random_instance(4, 3, T=10, max_products=2)
    committed = np.array([-1, 2, -1, -1], np.int64)
    q = impose(inst, np.array([5, 0, 4, 3]), committed, value=np.array([1.0, 0, 3.0, 2.0]))
    assert q[1] == 2 and int((q > 0).sum()) == 2 and q[2] == 4


def test_solve_and_cli_take_a_commitment(tmp_path, chocolate, chocolate_path, capsys):
    from assortopt.cli import main

    sol = assortopt.solve(chocolate, scenarios=10, seed=0, eval_reps=100, committed={"cocoa80": 7})
    assert sol.stock[chocolate.ids.index("cocoa80")] == 7
    assert sol.to_dict()["committed"] == {"cocoa80": 7}
    (tmp_path / "c.json").write_text(json.dumps({"stock": {"cocoa80": 7}}))
    out = tmp_path / "plan.json"
    code = main(
        [
            "solve",
            str(chocolate_path),
            "--committed",
            str(tmp_path / "c.json"),
            "--scenarios",
            "10",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    assert json.loads(out.read_text())["stock"]["cocoa80"] == 7
    (tmp_path / "bad.json").write_text(json.dumps({"stock": {"nope": 1}}))
    code = main(["solve", str(chocolate_path), "--committed", str(tmp_path / "bad.json")])
    assert code == 2
    assert "stock.nope" in capsys.readouterr().err


def test_bad_commitments_are_refused(chocolate):
    with pytest.raises(OptionError):
        assortopt.solve(chocolate, committed=np.array([1, 2]))
    with pytest.raises(OptionError):
        assortopt.solve(chocolate, committed=np.array([1, -2, 0]))
    with pytest.raises(InstanceError):
        commitment_from_stock(chocolate, {"cocoa90": 1.5})
