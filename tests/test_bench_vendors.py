"""Bench grid keys ``vendors`` / ``vendor_by`` and the price-of-sequentiality report.

Claims: a split grid gives one cell per (instance, V, rule) with distinct keys, and configs
without a split keep the cell keys of the committed results (computed before the keys existed);
bad keys are refused with one line naming file and key (exit 2 from the CLI); a cell's instance
carries exactly `assign_vendors`' labels; with one vendor the waves plan is the joint heuristic's
(same profit on the same seasons); the report's price and recovered share are the paired
differences' arithmetic (checked by hand on a made-up frame).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assortopt.bench import load_config
from assortopt.bench.cell import _make_instance, _with_vendors, run_cell
from assortopt.bench.config import parse_config
from assortopt.bench.sequentiality import sequentiality_figure, sequentiality_table
from assortopt.cli import main
from assortopt.exceptions import OptionError
from assortopt.methods.waves import assign_vendors

ROOT = Path(__file__).resolve().parents[1]

GRID = {
    "family": ["cluster"],
    "n_products": [12],
    "customers_ratio": [1.0],
    "seeds": [0, 1],
    "vendors": [1, 2, 3],
    "vendor_by": ["random", "rank", "category"],
}
METHODS = [
    {"name": "heuristic"},
    {"name": "waves", "label": "myopic", "params": {"lookahead": "none"}},
    {"name": "waves", "label": "lookahead"},
]


def test_one_cell_per_split_with_distinct_keys():
    cells = parse_config({"grid": [GRID], "method": METHODS}).cells()
    assert len(cells) == 2 * 3 * 3 and len({c.key for c in cells}) == len(cells)
    assert {(c.seed, c.vendors, c.vendor_by) for c in cells} == {
        (s, v, b) for s in (0, 1) for v in (1, 2, 3) for b in ("random", "rank", "category")
    }
    default = parse_config(
        {"grid": [{**GRID, "vendor_by": "rank"} | {"vendors": 2}], "method": METHODS}
    ).cells()
    assert {c.vendor_by for c in default} == {"rank"}
    no_rule = dict(GRID)
    del no_rule["vendor_by"]
    assert {c.vendor_by for c in parse_config({"grid": [no_rule], "method": METHODS}).cells()} == {
        "random"
    }


@pytest.mark.parametrize("name", ["truth-300", "waves"])
def test_keys_without_split_match_committed_results(name):
    results = ROOT / "benchmarks" / "results" / name
    if name == "waves":  # the split sweep: keys must match its own results once committed
        results = ROOT / "benchmarks" / "results" / "waves-bench"
    cfg = load_config(ROOT / "benchmarks" / f"{name}.toml")
    keys = [c.key for c in cfg.cells()]
    csv = results / "results.csv"
    if name == "waves" and not csv.exists():
        assert all("-v" in k for k in keys)
        return
    done = list(dict.fromkeys(pd.read_csv(csv, dtype=str).cell))
    assert done == keys[: len(done)]


@pytest.mark.parametrize(
    ("change", "key", "text"),
    [
        ({"vendor_by": ["rank"], "vendors": None}, "grid[0].vendor_by", "needs vendors"),
        ({"vendors": [0]}, "grid[0].vendors", ">= 1"),
        ({"vendors": [13]}, "grid[0].vendors", "exceeds"),
        ({"vendors": [2, 2]}, "grid[0].vendors", "twice"),
        ({"vendors": [2.5]}, "grid[0].vendors", "integer"),
        ({"vendor_by": ["alphabet"]}, "grid[0].vendor_by", "unknown rule"),
        ({"vendor_by": ["rank", "rank"]}, "grid[0].vendor_by", "twice"),
        ({"family": ["sparse"]}, "grid[0].vendor_by", "category needs product categories"),
    ],
)
def test_bad_vendor_keys_one_line_exit_2(tmp_path, capsys, change, key, text):
    grid = {**GRID, **change}
    grid = {k: v for k, v in grid.items() if v is not None}
    with pytest.raises(OptionError) as e:
        parse_config({"grid": [grid], "method": METHODS}, source="cfg.toml")
    assert str(e.value).startswith(f"cfg.toml: {key}:") and text in str(e.value)
    # through the CLI: one line, exit 2
    lines = ["[[grid]]"]
    for k, v in grid.items():
        lines.append(f"{k} = {json.dumps(v)}")
    lines += ["[[method]]", 'name = "heuristic"']
    p = tmp_path / "cfg.toml"
    p.write_text("\n".join(lines) + "\n")
    rc = main(["bench", str(p), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and key in err and str(p) in err


def test_cell_instance_has_assign_vendors_labels_and_one_vendor_is_joint():
    cells = parse_config(
        {
            "bench": {"eval_reps": 200, "scenarios": 10},
            "grid": [{**GRID, "seeds": [0]}],
            "method": METHODS[:2],
        }
    ).cells()
    for c in cells[:: len(cells) // 3]:
        inst = _with_vendors(c, _make_instance(c)[0])
        base = _make_instance(c)[0]
        if c.vendor_by == "category":
            base = base.replace(category=tuple(str(x) for x in base.metadata["category"]))
        assert inst.vendor == assign_vendors(base, c.vendors, c.vendor_by, c.seed).vendor
        assert len(set(inst.vendor)) == c.vendors
    one = next(c for c in cells if c.vendors == 1)
    rows, _ = run_cell(one)
    by = {r["method"]: r for r in rows}
    assert by["heuristic"]["vendors"] == 1 and by["myopic"]["vendor_by"] == one.vendor_by
    assert by["myopic"]["profit_mean"] == by["heuristic"]["profit_mean"]
    assert by["myopic"]["diff_ref"] == 0.0


def _row(cell, method, name, lookahead, profit, diff, se, n=100, by="random", v=2):
    params = {} if lookahead is None else {"lookahead": lookahead}
    return {
        "cell": cell,
        "n": n,
        "vendors": v,
        "vendor_by": by,
        "method": method,
        "method_name": name,
        "options": json.dumps({"params": params}),
        "profit_mean": profit,
        "diff_ref": diff,
        "diff_ref_se": se,
        "plan_s": 1.0,
    }


def test_price_table_by_hand(tmp_path):
    rows = []
    for cell, joint, dm, dl in (("a", 200.0, -20.0, -5.0), ("b", 100.0, -6.0, -1.0)):
        rows += [
            _row(cell, "heuristic", "heuristic", None, joint, 0.0, 0.0),
            _row(cell, "myopic", "waves", "none", joint + dm, dm, 0.5),
            _row(cell, "look", "waves", "pooled", joint + dl, dl, 0.5),
        ]
    ok = pd.DataFrame(rows)
    t = sequentiality_table(ok, "heuristic")
    row = t.loc[(100, "random", 2)]
    # per cell: myopic 10% and 6%, lookahead 2.5% and 1%; se 0.25% and 0.5%
    se = np.sqrt(0.25**2 + 0.5**2) / 2
    assert row["myopic price %"] == f"{8.0:.2f} ± {se:.2f}"
    assert row["look price %"] == f"{1.75:.2f} ± {se:.2f}"
    assert row["look recovers"] == f"{100 * (8.0 - 1.75) / 8.0:.0f}%"
    assert row["cells"] == 2 and row["joint profit"] == 150.0
    sequentiality_figure(ok, "heuristic", tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_shipped_waves_config_parses():
    cfg = load_config(ROOT / "benchmarks" / "waves.toml")
    cells = cfg.cells()
    assert {c.n for c in cells} == {100, 300, 1000}
    assert {c.vendors for c in cells} == {2, 4, 8}
    assert {c.vendor_by for c in cells} == {"random", "rank", "category"}
