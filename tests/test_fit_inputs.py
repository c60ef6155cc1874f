"""Two more inputs of ``assortopt fit``: a periods file's visits in a second CSV (``--visits-file``,
the same visits as a ``visits`` column, so the same data and fit), and a user support for ρ
(``--support transitions.csv`` with from, to columns: the fitted ρ lives on it). Bad files are
refused in one line naming file, row and column, exit 2."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from assortopt import load_instance
from assortopt.cli import main
from assortopt.fit import fit_markov_chain, read_sales, sample_sales
from assortopt.fit.data import read_support, write_periods_csv
from tests.test_fit import _catalogue, _truth


def _split_periods(src: Path, periods: Path, visits: Path) -> None:
    """The periods CSV without its visits column, and the visits in a second file."""
    with open(src, newline="") as fh:
        rows = list(csv.reader(fh))
    seen: dict[str, str] = {}
    with open(periods, "w", newline="") as fh:
        w = csv.writer(fh)
        for r in rows:
            w.writerow(r[:4])
            if r[0] != "period":
                seen.setdefault(r[0], r[4])
    with open(visits, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["period", "visits"])
        for name, v in reversed(list(seen.items())):  # any order
            w.writerow([name, v])


def _same(a, b) -> None:
    for f in ("out_indptr", "out_indices", "ch_indptr", "ch_product", "ch_count"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.has_no_purchase and b.has_no_purchase


def test_visits_in_a_second_file_give_the_same_data_and_fit(tmp_path: Path) -> None:
    truth = _truth()
    data = sample_sales(truth, 1200, seed=5, periods=15)
    cat = _catalogue(tmp_path / "products.csv", truth.ids)
    write_periods_csv(data, tmp_path / "one.csv")
    _split_periods(tmp_path / "one.csv", tmp_path / "two.csv", tmp_path / "visits.csv")
    one, _ = read_sales(tmp_path / "one.csv", ids=truth.ids)
    two, _ = read_sales(tmp_path / "two.csv", ids=truth.ids, visits_file=tmp_path / "visits.csv")
    _same(one, two)
    _same(one, data)
    outs = []
    for args in (["one.csv"], ["two.csv", "--visits-file", str(tmp_path / "visits.csv")]):
        out = tmp_path / f"fit-{args[0]}.json"
        rc = main(
            ["fit", str(tmp_path / args[0]), *args[1:], "--catalogue", str(cat), "-t", "50"]
            + ["-o", str(out)]
        )
        assert rc == 0
        outs.append(load_instance(out))
    np.testing.assert_array_equal(outs[0].arrival, outs[1].arrival)
    np.testing.assert_array_equal(outs[0].transitions.toarray(), outs[1].transitions.toarray())


@pytest.mark.parametrize(
    "visits,where,what",
    [
        ("period,visits\nd0,900\nzz,3\n", "row 3, column period", "unknown period"),
        ("period,visits\nd0,900\nd0,900\n", "row 3, column period", "repeated"),
        ("period,visits\nd0,-1\n", "row 2, column visits", ">= 0"),
        ("period,visits\nd0,1.5\n", "row 2, column visits", "whole number"),
        ("period,visits\nd0,1\n", "row 2, column visits", "fewer visits than sales"),
        ("period,count\nd0,9\n", "row 1, column visits", "missing column"),
        ("period,visits\n", "column visits", "no visits given for period 'd0'"),
    ],
)
def test_bad_visits_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], visits: str, where: str, what: str
) -> None:
    cat = _catalogue(tmp_path / "products.csv", ["1", "2"])
    (tmp_path / "p.csv").write_text("period,product,available,sold\nd0,1,1,5\nd0,2,0,0\n")
    (tmp_path / "v.csv").write_text(visits)
    rc = main(
        ["fit", str(tmp_path / "p.csv"), "--visits-file", str(tmp_path / "v.csv")]
        + ["--catalogue", str(cat), "-t", "10", "-o", str(tmp_path / "out.json")]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert str(tmp_path / "v.csv") in err and where in err and what in err, err


def test_visits_given_twice_or_with_sessions_is_refused(tmp_path: Path, capsys) -> None:
    cat = _catalogue(tmp_path / "products.csv", ["1", "2"])
    (tmp_path / "v.csv").write_text("period,visits\nd0,9\n")
    (tmp_path / "p.csv").write_text("period,product,available,sold,visits\nd0,1,1,5,9\n")
    (tmp_path / "s.csv").write_text("available,bought\n1 2,1\n")
    for data, where in (("p.csv", "p.csv: row 1, column visits"), ("s.csv", "v.csv")):
        rc = main(
            ["fit", str(tmp_path / data), "--visits-file", str(tmp_path / "v.csv")]
            + ["--catalogue", str(cat), "-t", "10", "-o", str(tmp_path / "out.json")]
        )
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and where in err, err


def test_user_support_bounds_the_fitted_transitions(tmp_path: Path) -> None:
    truth = _truth(n=6, seed=2)
    data = sample_sales(truth, 3000, seed=1, periods=40)
    cat = _catalogue(tmp_path / "products.csv", truth.ids)
    pairs = [("1", "2"), ("2", "1"), ("3", "4"), ("5", "6"), ("6", "5"), ("4", "3"), ("1", "2")]
    (tmp_path / "support.csv").write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    want = np.zeros((6, 6), bool)
    for a, b in pairs:
        want[int(a) - 1, int(b) - 1] = True
    pat = read_support(tmp_path / "support.csv", truth.ids)
    np.testing.assert_array_equal(pat.toarray() != 0, want)
    write_periods_csv(data, tmp_path / "periods.csv")
    out = tmp_path / "fit.json"
    rc = main(
        ["fit", str(tmp_path / "periods.csv"), "--support", str(tmp_path / "support.csv")]
        + ["--catalogue", str(cat), "-t", "50", "-o", str(out)]
    )
    assert rc == 0
    got = load_instance(out).transitions.toarray()
    assert np.all(got[~want] == 0) and np.all(got[want] > 0)
    inst, _ = fit_markov_chain(data, str(cat), 50, support=pat)  # the matrix gives the same fit
    np.testing.assert_allclose(inst.transitions.toarray(), got, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "text,where",
    [
        ("from,to\n1,9\n", "row 2, column to"),
        ("from,to\n1,2\n3,3\n", "row 3, column to"),
        ("from\n1\n", "row 1, column to"),
        ("from,to,prob\n1,2,0.5\n", "row 1, column prob"),
        ("from,to\n1,2,3\n", "row 2"),
    ],
)
def test_bad_support_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str
) -> None:
    cat = _catalogue(tmp_path / "products.csv", ["1", "2", "3"])
    (tmp_path / "p.csv").write_text("period,product,available,sold,visits\nd0,1,1,5,9\n")
    (tmp_path / "sup.csv").write_text(text)
    rc = main(
        ["fit", str(tmp_path / "p.csv"), "--support", str(tmp_path / "sup.csv")]
        + ["--catalogue", str(cat), "-t", "10", "-o", str(tmp_path / "out.json")]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert str(tmp_path / "sup.csv") in err and where in err, err
