"""The report's tables (`assortopt.bench.tables`) on a hand-made sweep of two cells.

Three methods: ``heur`` (the reference), ``mip`` (an exact method) and ``fluid`` (an error in
cell c1). Every expected number below is computed by hand from the rows in `_rows`; a mean ± se
is the mean over cells with ``sqrt(Σ se²)/n``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assortopt.bench.tables import (
    exact_table,
    long_tail_table,
    mean_se,
    methods_in_order,
    overview,
    pivot_mean_se,
    runtime_table,
    status_table,
    truth_table,
    versus_reference,
)

NAN = float("nan")
_COLS = (
    "cell family method method_name status lp_bound profit_mean profit_se pct_lp pct_lp_se "
    "gap_best gap_best_se gap_best_pct best_method diff_ref diff_ref_se mip_gap products units "
    "tail_products tail_units tail_sales_share fill_rate substitution_share plan_s "
    "truth_mean truth_se truth_gap_best truth_gap_best_se"
).split()


def _rows() -> pd.DataFrame:
    rows = [
        # cell c1 (LP bound 200): mip is best; fluid failed
        ("c1", "sparse", "heur", "heuristic", "heuristic", 200, 180, 2, 90, 1.0,
         10, 2, 5.0, "mip", 0, 0, NAN, 4, 20, 1, 2, 0.1, 0.9, 0.2, 1.0,
         NAN, NAN, NAN, NAN),
        ("c1", "sparse", "mip", "mip", "optimal", 200, 190, 2, 95, 1.0,
         0, 0, 0.0, "mip", 10, 2, 0.0, 5, 22, 2, 3, 0.2, 0.95, 0.1, 3.0,
         NAN, NAN, NAN, NAN),
        ("c1", "sparse", "fluid", "fluid", "error", NAN, NAN, NAN, NAN, NAN,
         NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0.5,
         NAN, NAN, NAN, NAN),
        # cell c2 (LP bound 400): heur is best; evaluated under a ground truth too
        ("c2", "mnl", "heur", "heuristic", "heuristic", 400, 380, 2, 95, 0.5,
         0, 0, 0.0, "heur", 0, 0, NAN, 6, 30, 3, 4, 0.3, 0.8, 0.4, 2.0,
         370, 3, 5, 1),
        ("c2", "mnl", "mip", "mip", "feasible", 400, 372, 2, 93, 0.5,
         8, 4, 2.0, "heur", -8, 4, 0.02, 7, 32, 4, 5, 0.4, 0.85, 0.3, 5.0,
         375, 3, 0, 0),
        ("c2", "mnl", "fluid", "fluid", "heuristic", 400, 300, 4, 75, 1.0,
         80, 5, 20.0, "heur", -80, 5, NAN, 3, 12, 0, 0, 0.0, 0.7, 0.0, 1.5,
         290, 2, 85, 4),
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=_COLS)
    df["n"], df["customers"] = 10, 100
    return df


@pytest.fixture
def sweep() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    df = _rows()
    ok = df[df.profit_mean.notna() & (df.status != "error")].copy()
    return df, ok, methods_in_order(df)


def test_mean_se_by_hand():
    # (1 + 3) / 2 = 2; sqrt(0.3² + 0.4²) / 2 = 0.25 (the NaN value is dropped with its se)
    assert mean_se(pd.Series([1.0, NAN, 3.0]), pd.Series([0.3, 0.1, 0.4])) == "2.00 ± 0.25"
    # a missing se counts as 0: sqrt(0 + 0.6²) / 2 = 0.3
    assert mean_se(pd.Series([2.0, 4.0]), pd.Series([NAN, 0.6])) == "3.00 ± 0.30"
    assert mean_se(pd.Series([NAN]), pd.Series([1.0])) == "–"


def test_overview_by_hand(sweep):
    df, ok, methods = sweep
    assert methods == ["heur", "mip", "fluid"]
    t = overview(df, ok, methods)
    assert list(t.index) == methods
    se = math.sqrt(1.0**2 + 0.5**2) / 2  # 0.559
    assert t.loc["heur", "% of LP bound"] == f"92.50 ± {se:.2f}" == "92.50 ± 0.56"
    assert t.loc["mip", "% of LP bound"] == "94.00 ± 0.56"
    assert t.loc["fluid", "% of LP bound"] == "75.00 ± 1.00"
    # gap se in % LP: heur 100·2/200 = 1 and 0 -> 0.5; mip 0 and 100·4/400 = 1 -> 0.5
    assert t.loc["heur", "gap to best (% LP)"] == "2.50 ± 0.50"
    assert t.loc["mip", "gap to best (% LP)"] == "1.00 ± 0.50"
    assert t.loc["fluid", "gap to best (% LP)"] == "20.00 ± 1.25"  # 100·5/400
    assert t.loc[:, "cells"].tolist() == [2, 2, 2]
    assert t.loc[:, "errors"].tolist() == [0, 0, 1]
    assert t.loc[:, "best"].tolist() == [1, 1, 0]
    # tied: gap <= 2 se; heur c2 (0 <= 0); mip c1 (0 <= 0) and c2 (8 <= 8); fluid 80 > 10
    assert t.loc[:, "best or tied"].tolist() == [1, 2, 0]
    assert t.loc[:, "products"].tolist() == [5.0, 6.0, 3.0]
    assert t.loc[:, "units"].tolist() == [25.0, 27.0, 12.0]
    # planning time over every row, the error row included: (0.5 + 1.5) / 2
    assert t.loc[:, "plan s (mean)"].tolist() == [1.5, 4.0, 1.0]


def test_status_table_by_hand(sweep):
    df, _, methods = sweep
    t = status_table(df, methods)
    assert list(t.index) == methods
    assert list(t.columns) == ["error", "feasible", "heuristic", "optimal"]
    assert t.to_numpy().tolist() == [[0, 0, 2, 0], [0, 1, 0, 1], [1, 0, 1, 0]]


def test_versus_reference_by_hand(sweep):
    _, ok, methods = sweep
    t = versus_reference(ok, methods, "heur")
    assert list(t.index) == ["mip", "fluid"]
    # mip: z = 10/2 = 5 (win) in c1, -8/4 = -2 (tie) in c2; fluid: -80/5 = -16 (loss)
    assert t.loc["mip", ["cells", "wins (> 2 se)", "ties", "losses (< −2 se)"]].tolist() == [
        2, 1, 1, 0,
    ]  # fmt: skip
    assert t.loc["fluid", ["cells", "wins (> 2 se)", "ties", "losses (< −2 se)"]].tolist() == [
        1, 0, 0, 1,
    ]  # fmt: skip
    # mip − heur in % LP: 100·10/200 = 5 and 100·(−8)/400 = −2; se 1 and 1 -> sqrt(2)/2
    assert t.loc["mip", "method − reference (% LP)"] == "1.50 ± 0.71"
    assert t.loc["fluid", "method − reference (% LP)"] == "-20.00 ± 1.25"
    assert versus_reference(ok, methods, None).empty


def test_exact_table_by_hand(sweep):
    _, ok, _ = sweep
    t = exact_table(ok, "heur")
    assert list(t.index) == [("mip", 10, 100)]
    r = t.loc[("mip", 10, 100)]
    assert r["cells"] == 2
    assert r["heur % LP"] == "92.50 ± 0.56" and r["MIP % LP"] == "94.00 ± 0.56"
    # heur − MIP = −(mip − heur): −5 and 2 -> −1.5 ± sqrt(2)/2
    assert r["heur − MIP (% LP, paired)"] == "-1.50 ± 0.71"
    assert r["MIP optimal"] == "1/2"
    assert r["MIP gap (mean)"] == pytest.approx(0.01)
    assert r["MIP s (mean)"] == pytest.approx(4.0)
    assert exact_table(ok, None).empty


def test_pivot_mean_se_by_hand(sweep):
    _, ok, methods = sweep
    t = pivot_mean_se(ok, ["family"], "pct_lp", "pct_lp_se", methods)
    assert list(t.index) == ["mnl", "sparse"] and list(t.columns) == methods
    assert t.loc["mnl"].tolist() == ["95.00 ± 0.50", "93.00 ± 0.50", "75.00 ± 1.00"]
    assert t.loc["sparse"].tolist() == ["90.00 ± 1.00", "95.00 ± 1.00", "–"]


def test_long_tail_table_by_hand(sweep):
    _, ok, methods = sweep
    t = long_tail_table(ok, methods)
    assert list(t.index) == [(10, 100, m) for m in methods]
    heur = t.loc[(10, 100, "heur")]
    expect = {
        "products": 5.0,  # (4 + 6) / 2
        "tail products": 2.0,  # (1 + 3) / 2
        "units": 25.0,
        "tail units": 3.0,
        "tail sales share": 0.2,  # (0.1 + 0.3) / 2
        "fill rate": 0.85,
        "subst. share": 0.3,
        "% LP": 92.5,
    }
    for col, v in expect.items():
        assert heur[col] == pytest.approx(v), col
    assert t.loc[(10, 100, "fluid"), "products"] == 3.0  # its evaluated cell only


def test_runtime_table_by_hand(sweep):
    df, _, methods = sweep
    t = runtime_table(df, methods)
    assert t.index.name == "N" and list(t.index) == [10] and list(t.columns) == methods
    np.testing.assert_allclose(t.loc[10].to_numpy(), [1.5, 4.0, 1.0])


def test_truth_table_by_hand(sweep):
    _, ok, methods = sweep
    t = truth_table(ok, methods)
    assert list(t.index) == methods  # only c2 has ground-truth columns
    assert t.loc[:, "cells"].tolist() == [1, 1, 1]
    assert t.loc["heur", "profit under MC"] == "380.00 ± 2.00"
    assert t.loc["heur", "profit under ground truth"] == "370.00 ± 3.00"
    assert t.loc["heur", "gap to truth-best"] == "5.00 ± 1.00"
    assert t.loc["fluid", "gap to truth-best"] == "85.00 ± 4.00"
    assert t.loc[:, "truth-best"].tolist() == [0, 1, 0]
    assert truth_table(ok[ok.cell == "c1"], methods).empty
