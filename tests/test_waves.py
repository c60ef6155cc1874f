"""Planning in waves: vendor labels, the pooled lookahead instance, and the method itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from factories import random_instance

import assortopt
import assortopt.methods.waves as waves_mod  # noqa: E402
from assortopt.choice.mc import choice_probabilities
from assortopt.exceptions import InstanceError, OptionError
from assortopt.instance import instance_from_dict, instance_to_dict
from assortopt.methods.base import PlanRequest, get_method
from assortopt.methods.waves import pooled_instance, vendor_order, wave_instance
from assortopt.solver import SolverOptions

OPTS = SolverOptions(threads=1)
ROOT = Path(__file__).resolve().parents[1]


def _labelled(n=9, seed=3, vendors="ABC", T=30, **kw):
    inst = random_instance(n, seed, T=T, **kw)
    return inst.replace(
        vendor=tuple(vendors[i % len(vendors)] for i in range(n)),
        category=tuple("xy"[i % 2] for i in range(n)),
    )


def test_labels_round_trip_and_are_validated(chocolate_path):
    d = json.loads(chocolate_path.read_text())
    d["products"][0]["vendor"] = "acme"
    d["products"][1]["category"] = "dark"
    inst = instance_from_dict(d)
    assert inst.vendor == ("acme", None, None) and inst.category == (None, "dark", None)
    back = instance_from_dict(instance_to_dict(inst))
    assert back.vendor == inst.vendor and back.category == inst.category
    d["products"][2]["vendor"] = ""
    with pytest.raises(InstanceError, match=r"products\[2\]\.vendor"):
        instance_from_dict(d, source="x.json")


def test_vendor_order():
    inst = _labelled(vendors="BAB")
    assert vendor_order(inst) == ["B", "A"]
    assert vendor_order(inst, "A,B") == ["A", "B"]
    with pytest.raises(OptionError):
        vendor_order(inst, "A")
    assert vendor_order(random_instance(3, 0)) == [""]


@pytest.mark.parametrize("labels", [None, "A"])
def test_single_vendor_waves_is_the_joint_heuristic(labels):
    inst = random_instance(8, 11, T=25)
    if labels:
        inst = inst.replace(vendor=(labels,) * inst.n)
    req = PlanRequest(scenarios=20, seed=4, options=OPTS)
    joint = get_method("heuristic")(inst, req)
    for look in ("pooled", "none"):
        w = get_method("waves")(
            inst, PlanRequest(scenarios=20, seed=4, options=OPTS, params={"lookahead": look})
        )
        np.testing.assert_array_equal(w.stock, joint.stock)
        assert w.objective == joint.objective


def test_myopic_wave_instance_is_the_exact_restriction():
    inst = _labelled()
    known = np.array([v == "A" for v in inst.vendor])
    sub, pos = wave_instance(inst, known)
    # every offer set inside the known products sells the same in both chains
    offer = np.zeros(inst.n, bool)
    offer[pos[:2]] = True
    full = choice_probabilities(inst, offer)[pos[:2]]
    part = choice_probabilities(sub, np.arange(sub.n) < 2)[:2]
    np.testing.assert_allclose(part, full, atol=1e-10)


def test_pooled_instance_with_singleton_pools_is_the_catalogue():
    inst = random_instance(5, 2, T=10)
    known = np.array([True, True, False, False, False])
    future = [np.eye(5, dtype=bool)[i] for i in (2, 3, 4)]
    sub, node_pos = pooled_instance(inst, known, future, ["c", "d", "e"])
    np.testing.assert_array_equal(node_pos[:2], [0, 1])
    np.testing.assert_allclose(sub.arrival, inst.arrival)
    np.testing.assert_allclose(sub.price, inst.price)
    np.testing.assert_allclose(sub.cost, inst.cost)
    np.testing.assert_allclose(sub.transitions.toarray(), inst.transitions.toarray(), atol=1e-12)


def test_pooled_instance_keeps_the_mass_of_each_pool():
    inst = _labelled(n=12, seed=8)
    vend = np.array(inst.vendor)
    sub, node_pos = pooled_instance(inst, vend == "A", [vend == "B", vend == "C"], ["B", "C"])
    assert sub.n == 4 + 2 and list(sub.ids[-2:]) == ["[vendor B]", "[vendor C]"]
    assert sub.arrival[-2] == pytest.approx(inst.arrival[vend == "B"].sum())
    assert sub.arrival.sum() == pytest.approx(inst.arrival.sum())
    # a known product's flow into a pool is the sum of its flows into the pool's products
    i = int(np.flatnonzero(vend == "A")[0])
    row = inst.transitions.toarray()[i]
    assert sub.transitions.toarray()[0, -1] == pytest.approx(row[vend == "C"].sum())
    assert np.all(sub.transitions.sum(axis=1) <= 1 + 1e-12)


@pytest.mark.parametrize("look", ["pooled", "none"])
def test_waves_keep_outside_commitment_and_constraints(look):
    inst = _labelled(max_products=5).replace(budget=60.0)
    committed = np.full(inst.n, -1, np.int64)
    committed[4] = 3
    req = PlanRequest(
        scenarios=15, seed=1, options=OPTS, params={"lookahead": look}, committed=committed
    )
    plan = get_method("waves")(inst, req)
    assert plan.stock[4] == 3
    assert int((plan.stock > 0).sum()) <= 5 and float(inst.cost @ plan.stock) <= 60.0 + 1e-9
    assert [h["vendor"] for h in plan.extra["waves"]] == ["A", "B", "C"]


def test_waves_through_solve_evaluates_the_whole_catalogue():
    inst = _labelled()
    sol = assortopt.solve(
        inst, method="waves", scenarios=15, seed=0, eval_reps=500, params={"order": "C,B,A"}
    )
    ev = assortopt.simulate(inst, sol.stock, reps=500, seed=1)
    assert sol.evaluation.mean == pytest.approx(ev.mean)
    assert [h["vendor"] for h in sol.plan.extra["waves"]] == ["C", "B", "A"]


def test_assign_vendors():
    inst = _labelled(n=12)
    r = waves_mod.assign_vendors(inst, 4, by="random", seed=1)
    assert sorted(set(r.vendor)) == ["v1", "v2", "v3", "v4"]
    assert all(r.vendor.count(f"v{k}") == 3 for k in range(1, 5))
    k = waves_mod.assign_vendors(inst, 3, by="rank")
    top = np.argsort(-inst.arrival, kind="stable")[:4]
    assert {k.vendor[i] for i in top} == {"v1"}
    c = waves_mod.assign_vendors(inst, 2, by="category")
    assert all(
        (c.vendor[i] == c.vendor[j])
        for i in range(12)
        for j in range(12)
        if inst.category[i] == inst.category[j]
    )
    with pytest.raises(OptionError):
        waves_mod.assign_vendors(inst, 13)


@pytest.mark.parametrize("name", ["chocolate.json", "tiny-sparse-n4-t8.json"])
def test_waves_meets_the_method_contract(name):
    from assortopt.instance import load_instance
    from assortopt.methods.rounding import check_plan
    from assortopt.solver.status import check

    base = load_instance(ROOT / "instances" / name)
    inst = base.replace(vendor=tuple("AB"[i % 2] for i in range(base.n)))
    req = PlanRequest(scenarios=20, seed=3, options=OPTS)
    plan = get_method("waves")(inst, req)
    check(plan.status, plan.termination)
    assert plan.stock.dtype == np.int64 and not check_plan(inst, plan.stock)
    again = get_method("waves")(inst, req)
    np.testing.assert_array_equal(again.stock, plan.stock)


@pytest.mark.parametrize("look", ["pooled", "none"])
def test_waves_with_a_tight_product_cap(look):
    inst = _labelled(n=12, seed=5, max_products=2)
    plan = get_method("waves")(
        inst, PlanRequest(scenarios=10, seed=0, options=OPTS, params={"lookahead": look})
    )
    assert plan.status == "heuristic", plan.message
    assert int((plan.stock > 0).sum()) <= 2
