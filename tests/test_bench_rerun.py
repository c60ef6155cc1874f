"""`assortopt bench --rerun-over-limit`: only the rows over the time allowance are planned again.

Truth: a fresh full sweep of the same configuration (plans and evaluations are seeded, so every
non-timing column of a rerun directory must equal it), and tampered lines (an untouched cell keeps
its lines byte for byte; a kept row's planning columns are taken over, not recomputed; the
cell-level columns of a touched cell are recomputed over all of its plans).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

from assortopt.bench import TIMING_COLUMNS, load_config, run_bench
from assortopt.bench.rerun import allowance, over_limit_rows, rerun_over_limit

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[bench]
name = "rerun"
eval_reps = 100
scenarios = 10
time_limit = 5.0
reference = "newsvendor"
[[grid]]
family = ["sparse"]
n_products = [5]
customers = [12]
seeds = [0, 1]
params = {k = 2}
[[method]]
name = "newsvendor"
[[method]]
name = "heuristic"
time_limit = 30.0
[[method]]
name = "pooled-newsvendor"
"""
CELL_LEVEL = ["best_method", "gap_best", "gap_best_se", "gap_best_pct", "diff_ref", "diff_ref_se"]


def _lines(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def _write(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())


def _two_sweeps(tmp_path: Path):
    """The config, one sweep kept as the truth and an identical one to doctor and rerun."""
    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(textwrap.dedent(CONFIG))
    cfg = load_config(cfg_path)
    full = run_bench(cfg, tmp_path / "full", progress=False)
    out = tmp_path / "out"
    run_bench(cfg, out, progress=False)
    return cfg_path, cfg, full, out


def test_allowance_is_the_readme_rule():
    assert allowance(0.01) == 0.01 + 2.0
    assert allowance(60.0) == 66.0
    assert allowance(100.0) == 110.0


def test_rerun_plans_only_the_over_rows_and_recomputes_their_cells(tmp_path):
    cfg_path, cfg, full, out = _two_sweeps(tmp_path)
    rows = _lines(out / "results.csv")
    col = {c: i for i, c in enumerate(rows[0])}
    cells = sorted({r[col["cell"]] for r in rows[1:]})
    touched, untouched = cells
    for r in rows[1:]:
        if r[col["cell"]] == touched and r[col["method"]] == "heuristic":
            r[col["plan_s"]] = "33.0001"  # over 30 + 3 s
        elif r[col["cell"]] == touched and r[col["method"]] == "pooled-newsvendor":
            r[col["plan_s"]] = "6.9"  # within 5 + 2 s: kept
            r[col["message"]] = "kept, not planned again"
        if r[col["method"]] == "newsvendor":
            r[col["best_method"]] = "bogus"  # cell-level: recomputed in the touched cell only
            r[col["diff_ref"]] = "123.0"
    _write(out / "results.csv", rows)
    before = {r[col["cell"]] + r[col["method"]]: r for r in rows[1:]}

    assert [(k, m) for k, m, _, _ in over_limit_rows(cfg, out)] == [(touched, "heuristic")]
    assert [(k, m) for k, m, _, _ in rerun_over_limit(cfg, out, progress=False)] == [
        (touched, "heuristic")
    ]
    assert over_limit_rows(cfg, out) == []

    after = _lines(out / "results.csv")
    assert after[0] == rows[0]
    got = {r[col["cell"]] + r[col["method"]]: r for r in after[1:]}
    assert got.keys() == before.keys()
    for key, r in got.items():
        if key.startswith(untouched):
            assert r == before[key]  # byte for byte, tampered cell-level columns included
    kept = got[touched + "pooled-newsvendor"]
    assert kept[col["plan_s"]] == "6.9"
    assert kept[col["message"]] == "kept, not planned again"
    # every other column of the touched cell is what a fresh sweep computes
    fresh = (
        pd.read_csv(full, dtype=str)
        .drop(columns=list(TIMING_COLUMNS))
        .set_index(["cell", "method"])
    )
    now = pd.read_csv(out / "results.csv", dtype=str).drop(columns=list(TIMING_COLUMNS))
    now = now.set_index(["cell", "method"]).loc[touched]
    ref = fresh.loc[touched].copy()
    ref.loc["pooled-newsvendor", "message"] = "kept, not planned again"
    pd.testing.assert_frame_equal(now, ref)
    assert now.loc["newsvendor", "best_method"] != "bogus"
    assert float(got[touched + "heuristic"][col["plan_s"]]) < allowance(30.0)
    # plans.jsonl: same records as the fresh sweep, in configuration order
    assert (out / "plans.jsonl").read_text() == (tmp_path / "full" / "plans.jsonl").read_text()


def test_cli_refuses_a_foreign_directory(tmp_path):
    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(textwrap.dedent(CONFIG))
    other = tmp_path / "other.toml"
    other.write_text(textwrap.dedent(CONFIG).replace("seeds = [0, 1]", "seeds = [0]"))
    run_bench(load_config(other), tmp_path / "out", progress=False)
    proc = subprocess.run(
        [sys.executable, "-m", "assortopt", "bench", str(cfg_path), "--output",
         str(tmp_path / "out"), "--rerun-over-limit"],
        capture_output=True, text=True, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "another configuration" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_rerun_keeps_the_columns_of_an_older_results_file(tmp_path):
    """A results.csv written before the vendors columns existed: the rerun writes its rows in
    the file's own columns and keeps the cells in configuration order."""
    cfg_path, cfg, full, out = _two_sweeps(tmp_path)
    rows = _lines(out / "results.csv")
    drop = [rows[0].index(c) for c in ("vendors", "vendor_by")]
    rows = [[v for i, v in enumerate(r) if i not in drop] for r in rows]
    col = {c: i for i, c in enumerate(rows[0])}
    first = rows[1][col["cell"]]
    for r in rows[1:]:
        if r[col["cell"]] == first and r[col["method"]] == "heuristic":
            r[col["plan_s"]] = "40"
    _write(out / "results.csv", rows)

    assert len(rerun_over_limit(cfg, out, progress=False)) == 1
    after = _lines(out / "results.csv")
    assert after[0] == rows[0]
    assert all(len(r) == len(rows[0]) for r in after)
    assert [r[col["cell"]] + r[col["method"]] for r in after] == [
        r[col["cell"]] + r[col["method"]] for r in rows
    ]
    fresh = pd.read_csv(full, dtype=str).drop(columns=[*TIMING_COLUMNS, "vendors", "vendor_by"])
    now = pd.read_csv(out / "results.csv", dtype=str).drop(columns=list(TIMING_COLUMNS))
    pd.testing.assert_frame_equal(now, fresh)
