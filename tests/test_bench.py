"""The benchmark harness: configs, the smoke sweep end to end, resume after a real kill, errors.

Claims under test:

* ``benchmarks/smoke.toml`` runs through `run_bench` (worker processes) and `write_report`; every
  method has rows without errors, the report names every method and the figures are real PNGs;
  the rows obey the sample-path identities of the protocol (the gap to the best plan is the
  difference of means on common random numbers; a plan re-simulated from plans.jsonl with the
  cell's evaluation seed gives its row's profit exactly).
* A sweep killed with SIGKILL after its first cell and then resumed gives the same CSV (timing
  columns aside) and the same plans.jsonl as an uninterrupted sweep, keeps the rows written
  before the kill untouched, and drops a torn last line.
* A failing instance or method records ``status=error`` with its message, and the sweep goes on.
* Config errors name the file and the key; the shipped configs parse and honour method limits.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assortopt.bench import TIMING_COLUMNS, load_config, read_results, run_bench, write_report
from assortopt.bench.config import parse_config
from assortopt.bench.figures import FIGURES
from assortopt.bench.tables import regret_slopes
from assortopt.exceptions import OptionError

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"

TINY = """
[bench]
name = "tiny"
eval_reps = 200
scenarios = 10
[[grid]]
family = ["sparse", "vertical"]
n_products = [5]
customers = [12]
seeds = [0, 1]
family_params = {sparse = {k = 2}}
[[method]]
name = "newsvendor"
[[method]]
name = "fluid"
[[method]]
name = "pooled-newsvendor"
"""


def _write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _without_timings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str).drop(columns=list(TIMING_COLUMNS))


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


# ============================================================================ smoke, end to end
@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    cfg = load_config(BENCH_DIR / "smoke.toml")
    csv_path = run_bench(cfg, out, workers=2, progress=False)
    report = write_report(out)
    return cfg, out, csv_path, report


def test_smoke_runs_every_method_and_reports_it(smoke):
    cfg, out, csv_path, report = smoke
    df = read_results(out)
    cells = cfg.cells()
    assert len(df) == sum(len(c.methods) for c in cells)
    assert list(dict.fromkeys(df.method)) == [m.label for m in cfg.methods]
    errors = df[df.status == "error"]
    assert errors.empty, errors[["cell", "method", "message"]].to_string()
    # the exact MIPs ran only where their limit admits them (and did run there)
    for label in ("mip", "spill-mip"):
        rows = df[df.method == label]
        assert not rows.empty and rows.n.max() <= 6
    text = report.read_text()
    for m in cfg.methods:
        assert f"| {m.label} |" in text, m.label
    for fig in FIGURES:
        assert _is_png(out / "figures" / fig), fig
        assert f"figures/{fig}" in text


def test_smoke_rows_obey_the_protocol(smoke):
    """Paired gaps are differences of means on the same customers; profits respect the bound."""
    _, out, _, _ = smoke
    df = read_results(out)
    for _, g in df.groupby("cell"):
        best = g[g.method == g.best_method.iloc[0]]
        assert len(best) == 1
        assert best.gap_best.iloc[0] == 0.0
        assert g.profit_mean.max() == best.profit_mean.iloc[0]
        np.testing.assert_allclose(
            g.gap_best, best.profit_mean.iloc[0] - g.profit_mean, rtol=1e-9, atol=1e-9
        )
        ref = g[g.method == g.reference.iloc[0]]
        np.testing.assert_allclose(
            g.diff_ref, g.profit_mean - ref.profit_mean.iloc[0], rtol=1e-9, atol=1e-9
        )
    np.testing.assert_allclose(df.pct_lp, 100 * df.profit_mean / df.lp_bound, rtol=1e-12)
    # no plan beats the LP upper bound beyond noise
    assert (df.profit_mean <= df.lp_bound + 4 * df.profit_se + 1e-9).all()
    # carried products and units match the plan records
    assert (df.products <= df.n).all() and (df.tail_products <= df.products).all()
    # the online cells were also evaluated under their ground truth, the others not
    online = df.family == "online"
    assert online.any() and df.loc[online, "truth_mean"].notna().all()
    assert df.loc[~online, "truth_mean"].isna().all()


def test_smoke_plans_file_reproduces_a_row(smoke):
    """Re-simulating a recorded plan with the cell's evaluation seed gives the row's numbers."""
    import json

    from assortopt.generators import generate
    from assortopt.simulation import simulate

    cfg, out, _, _ = smoke
    df = read_results(out)
    cell = next(c for c in cfg.cells() if c.family == "sparse")
    row = df[(df.cell == cell.key) & (df.method == "heuristic")].iloc[0]
    recs = [json.loads(line) for line in (out / "plans.jsonl").read_text().splitlines()]
    plan = next(r for r in recs if r["cell"] == cell.key and r.get("method") == "heuristic")
    inst = generate(cell.family, cell.n, cell.customers, cell.seed, **cell.generator_kwargs())
    demand = inst.customers_mean * inst.arrival
    order = np.lexsort((np.arange(inst.n), -demand))  # rank -> product
    stock = np.zeros(inst.n, dtype=np.int64)
    stock[order[plan["rank"]]] = plan["units"]
    assert stock.sum() == row.units and np.count_nonzero(stock) == row.products
    ev = simulate(inst, stock, reps=cell.eval_reps, seed=cell.eval_seed)
    assert ev.mean == pytest.approx(row.profit_mean, rel=1e-12)
    assert ev.stderr == pytest.approx(row.profit_se, rel=1e-9)


# ============================================================================ resume after a kill
_KILLED_RUN = """
import sys, time
from assortopt.bench import run_bench
def hold(n):
    if n >= 1:
        print("HELD", flush=True)
        time.sleep(600)
run_bench(sys.argv[1], sys.argv[2], workers=1, progress=False, on_cell=hold)
"""


def test_resume_after_kill_gives_the_same_csv(tmp_path):
    cfg_path = _write(tmp_path, TINY)
    full = run_bench(cfg_path, tmp_path / "full", workers=1, progress=False)

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, str(cfg_path), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # the first cell's rows are on disk when it says HELD
        assert line.strip() == "HELD", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = (out / "results.csv").read_text().splitlines()
    assert len(partial) == 1 + 3  # header + the first cell's three methods
    # as if the next write had been torn by the kill
    with open(out / "results.csv", "a") as f:
        f.write(partial[1][: len(partial[1]) // 2])
    with pytest.raises(OptionError, match="resume"):
        run_bench(cfg_path, out, workers=1, progress=False)
    resumed = run_bench(cfg_path, out, workers=2, resume=True, progress=False)

    pd.testing.assert_frame_equal(_without_timings(resumed), _without_timings(full))
    assert (out / "plans.jsonl").read_bytes() == (tmp_path / "full" / "plans.jsonl").read_bytes()
    final = resumed.read_text().splitlines()
    assert final[1:4] == partial[1:4]  # finished rows kept byte for byte (timings included)

    # resuming a finished sweep does nothing; another configuration is refused
    before = resumed.read_bytes()
    run_bench(cfg_path, out, workers=1, resume=True, progress=False)
    assert resumed.read_bytes() == before
    other = _write(tmp_path, TINY.replace("seeds = [0, 1]", "seeds = [0, 2]"), "other.toml")
    with pytest.raises(OptionError, match="another configuration"):
        run_bench(other, out, workers=1, resume=True, progress=False)


def test_resume_plans_only_the_deleted_methods_and_recomputes_the_cell(tmp_path):
    """Rows deleted by hand are rerun; the cell's other rows keep their plan columns (a marker
    written into one survives, so that method was not planned again) while the columns that
    compare plans are recomputed (a corrupted gap is repaired): the result equals a full run."""
    import json
    import shutil

    cfg_path = _write(tmp_path, TINY)
    full = run_bench(cfg_path, tmp_path / "full", workers=1, progress=False)
    out = tmp_path / "edited"
    shutil.copytree(tmp_path / "full", out)
    df = pd.read_csv(full, dtype=str, keep_default_na=False)
    cell = df["cell"].iloc[0]
    drop = (df["cell"] == cell) & (df["method"] == "fluid")
    kept = (df["cell"] == cell) & (df["method"] == "newsvendor")
    edited = df[~drop].copy()
    edited.loc[kept, "message"] = "planned before"
    edited.loc[kept, "gap_best"] = "123.0"
    edited.loc[kept, "best_method"] = "nobody"
    edited.to_csv(out / "results.csv", index=False)
    recs = [
        ln
        for ln in (out / "plans.jsonl").read_text().splitlines()
        if (json.loads(ln).get("cell"), json.loads(ln).get("method")) != (cell, "fluid")
    ]
    (out / "plans.jsonl").write_text("".join(ln + "\n" for ln in recs))

    resumed = run_bench(cfg_path, out, workers=2, resume=True, progress=False)

    got = _without_timings(resumed)
    want = _without_timings(full)
    assert (got["message"] == "planned before").sum() == 1
    got.loc[got["message"] == "planned before", "message"] = want.loc[kept.to_numpy(), "message"]
    pd.testing.assert_frame_equal(got, want)
    assert (out / "plans.jsonl").read_bytes() == (tmp_path / "full" / "plans.jsonl").read_bytes()


# ============================================================================ errors are rows
def test_failing_cells_and_methods_are_recorded(tmp_path, monkeypatch):
    from assortopt.methods import base

    def boom(inst, req):
        raise RuntimeError("boom on purpose")

    base.get_method("newsvendor")  # load the registry before adding to it
    monkeypatch.setitem(base.METHODS, "bench-test-boom", boom)
    cfg_path = _write(
        tmp_path,
        """
        [bench]
        eval_reps = 100
        scenarios = 5
        [[grid]]
        family = ["sparse"]
        n_products = [4]
        customers = [8]
        seeds = [0, 1]
        params = {k = 2}
        [[grid]]
        family = ["dense"]
        n_products = [4]
        customers = [8]
        params = {leave = 1.5}
        [[method]]
        name = "newsvendor"
        [[method]]
        name = "bench-test-boom"
        [[method]]
        name = "fluid"
    """,
    )
    csv_path = run_bench(cfg_path, tmp_path / "out", progress=False)
    df = read_results(tmp_path / "out")
    assert len(df) == 3 * 3
    assert set(df.cell.str.split("-").str[0]) == {"sparse", "dense"}
    boom_rows = df[(df.method == "bench-test-boom") & (df.family == "sparse")]
    assert (boom_rows.status == "error").all()
    assert boom_rows.message.str.contains("RuntimeError: boom on purpose").all()
    bad = df[df.family == "dense"]
    assert (bad.status == "error").all() and bad.message.str.contains("leave").all()
    good = df[(df.family == "sparse") & (df.method != "bench-test-boom")]
    assert (good.status != "error").all() and good.profit_mean.notna().all()
    assert csv_path.exists()
    report = write_report(tmp_path / "out").read_text()
    assert "## Errors" in report and "boom on purpose" in report


# ============================================================================ configs
@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("evals = 3\n", "bench.evals"),
        ("time_limit = -1\n", "bench.time_limit"),
        ("reference = 'mip'\n", "bench.reference"),
        ("[[grid]]\nfamily = ['nope']\nn_products = [3]\ncustomers = [5]\n", "grid[1].family"),
        (
            "[[grid]]\nfamily = ['mnl']\nn_products = [3]\ncustomers = [5]\nparams = {k = 3}\n",
            "grid[1].params.k",
        ),
        (
            "[[grid]]\nfamily = ['mnl']\nn_products = [3]\ncustomers = [5]\n"
            "customers_ratio = [1.0]\n",
            "grid[1].customers",
        ),
        ("[[grid]]\nfamily = ['mnl']\nn_products = [0]\ncustomers = [5]\n", "grid[1].n_products"),
        (
            "[[grid]]\nfamily = ['mnl']\nn_products = [3]\ncustomers = [5]\ntail = ['cauchy']\n",
            "grid[1].tail",
        ),
        ("[[method]]\nname = 'no-such-method'\n", "method[3].name"),
        ("[[method]]\nname = 'newsvendor'\n", "method[3].label"),
        (
            "[[method]]\nname = 'fluid'\nlabel = 'f2'\nparams = {bogus = 1}\n",
            "method[3].params.bogus",
        ),
        ("[[method]]\nname = 'fluid'\nlabel = 'f2'\nmax_n = -2\n", "method[3].max_n"),
        (  # typed like --param: refused before the sweep starts, not as error rows
            "[[method]]\nname = 'heuristic'\nlabel = 'h2'\nparams = {window = 1.5}\n",
            "method[3].params",
        ),
        (
            "[[method]]\nname = 'fluid'\nlabel = 'f3'\nparams = {rounding = 'sideways'}\n",
            "method[3].params",
        ),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, snippet, key):
    if snippet.startswith("[["):
        text = TINY + snippet
    else:  # a key of the [bench] table
        text = TINY.replace("[bench]\n", "[bench]\n" + snippet, 1)
    p = _write(tmp_path, text)
    with pytest.raises(OptionError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}: {key}:"), str(e.value)


def test_method_limits_select_cells():
    cfg = parse_config(
        {
            "grid": [
                {
                    "family": ["sparse", "mnl"],
                    "n_products": [5, 50],
                    "customers_ratio": [2.0],
                    "seeds": 2,
                }
            ],
            "method": [
                {"name": "newsvendor"},
                {"name": "fluid", "max_n": 10},
                {"name": "fluid", "label": "fluid-mnl", "families": ["mnl"], "min_n": 10},
            ],
        }
    )
    cells = cfg.cells()
    assert len(cells) == 2 * 2 * 2 and len({c.key for c in cells}) == len(cells)
    for c in cells:
        labels = [m.label for m in c.methods]
        assert ("fluid" in labels) == (c.n <= 10)
        assert ("fluid-mnl" in labels) == (c.family == "mnl" and c.n >= 10)
        assert c.customers == 2 * c.n
    # keys are stable and change exactly when a cell's method set does
    again = parse_config(
        {
            "grid": [
                {
                    "family": ["sparse", "mnl"],
                    "n_products": [5, 50],
                    "customers_ratio": [2.0],
                    "seeds": 2,
                }
            ],
            "method": [{"name": "newsvendor"}],
        }
    ).cells()
    assert [c.key for c in cfg.cells()] == [c.key for c in cells]
    again_keys = {c.key for c in again}
    for c in cells:
        assert (c.key in again_keys) == ([m.label for m in c.methods] == ["newsvendor"])


@pytest.mark.parametrize("name", ["smoke.toml", "paper.toml", "regret.toml"])
def test_shipped_configs_parse(name):
    cfg = load_config(BENCH_DIR / name)
    cells = cfg.cells()
    assert cells
    for c in cells:
        for m in c.methods:
            assert m.admits(c.family, c.n, c.customers)
    if name == "paper.toml":  # catalogue sizes where only the heuristic and baselines run
        big = [c for c in cells if c.n >= 1000]
        assert big and all(m.name not in ("mip", "spill-mip") for c in big for m in c.methods)
        assert any(m.name == "mip" for c in cells for m in c.methods)
    if name == "regret.toml":  # several T at a fixed N
        ts = {}
        for c in cells:
            ts.setdefault((c.family, c.n), set()).add(c.customers)
        assert all(len(v) >= 4 for v in ts.values())


def test_regret_slope_recovers_a_power_law():
    """Regret = a·T^b·(1 + noise): the fitted slope is b within its standard error."""
    rng = np.random.default_rng(3)
    t = np.repeat([100, 200, 400, 800, 1600], 4).astype(float)
    reg = 3.0 * t**0.5 * np.exp(0.05 * rng.standard_normal(t.size))
    df = pd.DataFrame(
        {
            "family": "f",
            "n": 10,
            "tail": "zipf",
            "alpha": 1.0,
            "margin": "m",
            "method": "h",
            "customers": t,
            "regret": reg,
            "profit_mean": 1.0,
        }
    )
    s = regret_slopes(df).iloc[0]
    assert abs(s.slope - 0.5) < 4 * s.slope_se and s.slope_se < 0.05
    assert s.points == t.size and s.dropped == 0
