"""The planner's view: table numbers against closed forms and the exact DP; the report renders."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from factories import random_instance
from scipy import stats

import assortopt
from assortopt.exact import expected_profit
from assortopt.instance import Instance
from assortopt.planner import TABLE_COLUMNS, plan_detail
from assortopt.report import write_report


def _two(t=10, lam=(0.3, 0.4), rho10=0.5):
    return Instance(
        ids=["a", "b"],
        price=[5.0, 4.0],
        cost=[2.0, 1.0],
        arrival=list(lam),
        transitions=sp.csr_array(([rho10], ([1], [0])), shape=(2, 2)),
        customers_mean=t,
        vendor=("v1", "v2"),
    )


def test_single_product_matches_the_binomial():
    inst = Instance(
        ids=["x"],
        price=[3.0],
        cost=[1.0],
        arrival=[0.6],
        transitions=sp.csr_array((1, 1)),
        customers_mean=10,
    )
    reps = 20000
    t = plan_detail(inst, [4], reps=reps, seed=5).table
    d = stats.binom(10, 0.6)
    k = np.arange(11)
    sales = float((np.minimum(k, 4) * d.pmf(k)).sum())
    p_out = float(d.sf(3))
    sd = float(np.sqrt((np.minimum(k, 4) ** 2 * d.pmf(k)).sum() - sales**2))
    assert t.loc[0, "first_choice_demand"] == pytest.approx(6.0)
    assert t.loc[0, "expected_sales"] == pytest.approx(sales, abs=5 * sd / np.sqrt(reps))
    assert t.loc[0, "stockout_probability"] == pytest.approx(
        p_out, abs=5 * np.sqrt(p_out * (1 - p_out) / reps)
    )
    assert t.loc[0, "sell_through"] == pytest.approx(t.loc[0, "expected_sales"] / 4)
    assert t.loc[0, "substitution_in"] == 0 and t.loc[0, "substitution_out"] == 0


def test_substitution_flows_match_the_chain():
    inst = _two()
    reps = 20000
    det = plan_detail(inst, [10, 0], reps=reps, seed=2)  # a never runs out, b is not carried
    t = det.table
    flow = 10 * 0.4 * 0.5
    tol = 5 * np.sqrt(10 * 0.2 * 0.8 / reps)
    assert t.loc[0, "substitution_in"] == pytest.approx(flow, abs=tol)
    assert t.loc[1, "substitution_out"] == pytest.approx(flow, abs=tol)
    assert t.loc[1, "lost_first_choice"] == pytest.approx(10 * 0.4 * 0.5, abs=tol)
    assert t.loc[0, "expected_sales"] == pytest.approx(10 * (0.3 + 0.2), abs=2 * tol)
    assert t.loc[0, "stockout_probability"] == pytest.approx(
        float(stats.binom(10, 0.5).pmf(10)), abs=0.003
    )
    assert np.isnan(t.loc[1, "sell_through"]) and np.isnan(t.loc[1, "stockout_probability"])
    assert list(t["vendor"]) == ["v1", "v2"]
    assert det.flows.iloc[0].tolist()[:2] == ["b", "a"]
    assert det.flows.iloc[0]["per_season"] == pytest.approx(t.loc[0, "substitution_in"])


def test_sales_add_up_to_the_exact_profit():
    inst = random_instance(3, 9, T=6, salvage=True)
    q = np.array([2, 1, 3])
    det = plan_detail(inst, q, reps=20000, seed=3)
    t = det.table
    profit = float(
        ((inst.price - inst.salvage) * t["expected_sales"]).sum() - (inst.cost - inst.salvage) @ q
    )
    exact = expected_profit(inst, q)
    assert profit == pytest.approx(exact, abs=5 * det.stderr)
    assert det.mean == pytest.approx(exact, abs=5 * det.stderr)
    assert profit == pytest.approx(det.mean, rel=1e-9, abs=1e-9)  # the same seasons, two ways


def test_report_renders(tmp_path):
    inst = random_instance(12, 4, T=30).replace(vendor=tuple("AB"[i % 2] for i in range(12)))
    sol = assortopt.solve(inst, scenarios=10, seed=0, eval_reps=200)
    page = write_report(inst, sol.stock, tmp_path / "rep", reps=300, solution=sol.to_dict())
    text = page.read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert {"long_tail.png", "substitution.png", "profit.png", "products.csv"} <= set(refs)
    import matplotlib.image as mpimg

    for ref in refs:
        assert (page.parent / ref).is_file(), ref
        if ref.endswith(".png"):
            img = mpimg.imread(page.parent / ref)
            assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    table = pd.read_csv(page.parent / "products.csv")
    assert list(table.columns) == list(TABLE_COLUMNS) and len(table) == inst.n
    assert "LP upper bound" in text


def test_cli_csv_output_and_report(tmp_path, chocolate_path):
    from assortopt.cli import main

    csv = tmp_path / "plan.csv"
    assert (
        main(["solve", str(chocolate_path), "-k", "10", "--eval-reps", "100", "-o", str(csv)]) == 0
    )
    t = pd.read_csv(csv)
    need = {
        "id",
        "vendor",
        "units",
        "first_choice_demand",
        "expected_sales",
        "sell_through",
        "stockout_probability",
        "substitution_in",
        "substitution_out",
    }
    assert need <= set(t.columns) and len(t) == 3
    sol = tmp_path / "plan.json"
    assert (
        main(["solve", str(chocolate_path), "-k", "10", "--eval-reps", "100", "-o", str(sol)]) == 0
    )
    assert json.loads(sol.read_text())["format"] == "assortopt-solution/1"
    out = tmp_path / "rep"
    assert (
        main(["report", str(sol), str(chocolate_path), "--output", str(out), "--reps", "200"]) == 0
    )
    assert (out / "report.html").is_file()
    np.testing.assert_array_equal(
        t["units"].to_numpy(), [json.loads(sol.read_text())["stock"].get(i, 0) for i in t["id"]]
    )
