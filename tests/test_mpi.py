"""MPI scale-out (issue 7): mpi-sppy scenario models run under ``mpiexec -n 2``.

Claims checked against independent truths: the MPI extensive form has the single-process optimum
(same scenarios); PH's certified gap brackets the EF optimum and is <= 1%; a failing rank ends
the run with a message; ``bench --mpi`` writes the serial rows and resumes; the MMW interval
covers the exact (DP) gap of the all-zero plan and is small for the exact optimal plan.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpisppy")
pytest.importorskip("mpi4py")

from assortopt.generators import generate_file  # noqa: E402
from assortopt.instance import load_instance  # noqa: E402
from assortopt.models.saa_lp import solve_saa_lp  # noqa: E402
from assortopt.models.scenario_data import first_choice_counts  # noqa: E402
from assortopt.models.spill_mip import build_spill_mip  # noqa: E402
from assortopt.solver import SolverOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny-sparse-n4-t8.json"
MPIEXEC = str(Path(sys.executable).with_name("mpiexec"))


def _mpi(*args: str, n: int = 2, timeout: float = 120, driver: Path | None = None):
    """``mpiexec -n N python -m mpi4py -m assortopt ARGS`` (or the test ``driver`` script)."""
    run = [str(driver)] if driver is not None else ["-m", "assortopt"]
    cmd = [MPIEXEC, "-n", str(n), sys.executable, "-m", "mpi4py", *run, *args]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        cwd=tempfile.gettempdir(),  # mpi-sppy leaves empty *.log files in its working directory
    )


@pytest.mark.parametrize("method", ["saa-lp-all", "spill-mip"])
def test_ef_matches_single_process(tmp_path, method):
    out = tmp_path / "ef.json"
    p = _mpi(
        "solve", str(TINY), "--method", method, "--mpi", "--scenarios", "12", "--seed", "5",
        "--eval-reps", "50", "--mip-gap", "1e-9", "-o", str(out),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    d = json.loads(out.read_text())
    inst = load_instance(TINY)
    counts = first_choice_counts(inst, None, 12, 5)
    if method == "saa-lp-all":
        ref = solve_saa_lp(inst, counts, None).objective
        got = d["extra"]["saa_objective"]
    else:
        ref = build_spill_mip(inst, counts).solve(SolverOptions(mip_gap=1e-9)).objective
        got = d["objective"]
        assert d["status"] == "optimal"
    assert got == pytest.approx(ref, rel=1e-7, abs=1e-7)
    assert d["extra"]["decomposition"] == "ef" and d["extra"]["ranks"] == 2


def test_sample_path_scenarios_rebuild_the_mip_ef():
    """The per-scenario sample-path models (global stock bounds restored) give the K-scenario
    MIP optimum: checked in process through mpi-sppy's EF."""
    import mpisppy.utils.sputils as sputils

    from assortopt.methods.base import PlanRequest, get_method
    from assortopt.mpi import scenario_creator, scenario_names_creator
    from assortopt.solver import solve_lp
    from assortopt.solver.pyomo_bridge import compile_model as _compile

    kw = {"inst_path": str(TINY), "method": "mip", "num_scens": 8, "seed": 3}
    ef = sputils.create_EF(
        scenario_names_creator(8), scenario_creator, scenario_creator_kwargs=kw,
        suppress_warnings=True,
    )  # fmt: skip
    r = solve_lp(_compile(ef)[0], SolverOptions(mip_gap=1e-9))
    req = PlanRequest(scenarios=8, seed=3, options=SolverOptions(mip_gap=1e-9))
    ref = get_method("mip")(load_instance(TINY), req)
    assert r.objective == pytest.approx(ref.objective, rel=1e-7)


@pytest.mark.parametrize("method", ["mip", "spill-mip"])
def test_ef_start_is_the_plans_value(method):
    """The extensive form's warm start (`ef_start`) is feasible and worth what the plan is
    worth on the same K scenarios: the simulated mean profit (sample-path MIP) or the
    single-process spill MIP's sell-first start. Without it, HiGHS found no solution of the
    mip EF of chocolate (K = 100) in 11 s of a 20 s limit (status error)."""
    import mpisppy.utils.sputils as sputils

    from assortopt.models.spill_mip import complete_start
    from assortopt.mpi import scenario_creator, scenario_names_creator
    from assortopt.mpi.contract import scenario_data
    from assortopt.mpi.ef import ef_start
    from assortopt.sampling import sample_streams
    from assortopt.simulation import simulate_stream
    from assortopt.solver.pyomo_bridge import compile_model as _compile

    inst = load_instance(TINY)
    kw = {"inst_path": str(TINY), "method": method, "num_scens": 8, "seed": 3}
    names = scenario_names_creator(8)
    ef = sputils.create_EF(names, scenario_creator, scenario_creator_kwargs=kw,
                           suppress_warnings=True)  # fmt: skip
    lp, columns = _compile(ef)
    for stock in ([0, 0, 0, 0], [2, 1, 0, 3], [5, 5, 5, 5]):
        q = np.array(stock, np.int64)
        x = ef_start(ef, names, columns, kw, q)
        assert lp.is_feasible(x)
        if method == "mip":  # units beyond U (a unit no scenario can sell) are not bought
            data = scenario_data(str(TINY), "mip", 8, 3)
            qq = np.zeros(inst.n, np.int64)
            qq[data.products] = np.minimum(q[data.products], data.stock_hi)
            truth = simulate_stream(inst, qq, sample_streams(inst, 8, 3)).profits.mean()
        else:
            f = build_spill_mip(inst, first_choice_counts(inst, None, 8, 3))
            truth = f.lp.objective_value(complete_start(f, q.astype(float)))
        assert lp.objective_value(x) == pytest.approx(truth, rel=1e-9, abs=1e-9)


def test_ph_certifies_a_small_gap(tmp_path):
    path = tmp_path / "big.json"
    generate_file("sparse", 3, 20000, 1, path)
    out = tmp_path / "ph.json"
    p = _mpi(
        "solve", str(path), "--method", "spill-mip", "--mpi", "--decomposition", "ph",
        "--scenarios", "4", "--seed", "0", "--eval-reps", "50", "--param", "iterations=60",
        "-o", str(out),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    d = json.loads(out.read_text())
    inst = load_instance(path)
    ef = build_spill_mip(inst, first_choice_counts(inst, None, 4, 0)).solve(
        SolverOptions(mip_gap=1e-9)
    )
    assert d["mip_gap"] <= 0.01
    # the certified bounds bracket the EF optimum, and the plan is worth what PH says
    assert d["objective"] <= ef.objective + 1e-6 * abs(ef.objective)
    assert d["mip_bound"] >= ef.objective - 1e-6 * abs(ef.objective)


def test_lshaped_across_ranks_matches_the_monolithic_lp(tmp_path):
    """L-shaped with the exact scenario solves shared by 2 ranks: certified bounds bracket the
    monolithic HiGHS optimum of the same SAA-LP, and both ranks solved scenarios exactly."""
    path = tmp_path / "n60.json"
    inst = generate_file("sparse", 60, 60, 3, path)  # a draw that needs exact solves (checked)
    out = tmp_path / "ls.json"
    p = _mpi(
        "solve", str(path), "--method", "saa-lp-all", "--mpi", "--decomposition", "lshaped",
        "--scenarios", "16", "--seed", "2", "--eval-reps", "50", "--param", "rel_gap=1e-6",
        "-o", str(out),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    ex = json.loads(out.read_text())["extra"]
    ref = solve_saa_lp(inst, first_choice_counts(inst, None, 16, 2), None, method="monolithic")
    opt = ref.objective
    assert ex["decomposition"] == "lshaped" and ex["mpi_status"] == "optimal"
    assert ex["mpi_gap"] <= 1e-6
    assert ex["mpi_objective"] <= opt + 1e-6 * abs(opt)
    assert ex["mpi_bound"] >= opt - 1e-6 * abs(opt)
    assert ex["saa_objective"] == pytest.approx(opt, rel=2e-6)
    # over all products selling first is often not optimal: exact solves ran on both ranks
    assert all(n > 0 for n in ex["exact_solves_per_rank"]), ex


def test_lshaped_refuses_integer_recourse(tmp_path):
    p = _mpi(
        "solve", str(TINY), "--method", "spill-mip", "--mpi", "--decomposition", "lshaped",
        timeout=60,
    )  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.count("needs a continuous second stage") == 1
    assert "Traceback" not in p.stderr


FAILING = ROOT / "tests" / "mpi_failing_rank.py"


@pytest.mark.parametrize(("decomposition", "rank"), [("ph", 1), ("lshaped", 0)])
def test_failing_rank_aborts_with_a_message(tmp_path, decomposition, rank):
    method = "saa-lp-all" if decomposition == "lshaped" else "spill-mip"
    p = _mpi(
        str(rank), "scenarios",
        "solve", str(TINY), "--method", method, "--mpi", "--decomposition", decomposition,
        "--scenarios", "4", "--eval-reps", "0", "-o", str(tmp_path / "x.json"),
        timeout=60, driver=FAILING,
    )  # fmt: skip
    assert p.returncode != 0
    assert f"rank {rank} of 2 failed" in p.stderr and "on purpose" in p.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("rank", [0, 1])
def test_failing_rank_aborts_gap(tmp_path, rank):
    """One rank's replication fails: the job ends with its line, no rank waits in the gather."""
    sol = tmp_path / "plan.json"
    sol.write_text(json.dumps({"stock": {"p0001": 1}}))
    p = _mpi(
        str(rank), "gap",
        "gap", str(TINY), str(sol), "--replications", "4", "--scenarios", "4",
        timeout=60, driver=FAILING,
    )  # fmt: skip
    assert p.returncode != 0
    assert f"rank {rank} of 2 failed in a gap replication" in p.stderr
    assert "on purpose" in p.stderr


@pytest.mark.parametrize("rank", [0, 1])
def test_failing_rank_aborts_bench(tmp_path, rank):
    cfg = tmp_path / "mpi-tiny.toml"
    cfg.write_text(BENCH)
    p = _mpi(
        str(rank), "bench", "bench", str(cfg), "--mpi", "-o", str(tmp_path / "par"),
        timeout=60, driver=FAILING,
    )  # fmt: skip
    assert p.returncode != 0
    assert f"rank {rank} of 2 failed in the benchmark sweep" in p.stderr


def test_bad_input_exits_2_once(tmp_path):
    p = _mpi("solve", str(TINY), "--method", "heuristic", "--mpi", timeout=60)
    assert p.returncode == 2
    assert p.stderr.count("--mpi: method must be one of") == 1


BENCH = """
[bench]
name = "mpi-tiny"
eval_reps = 100
scenarios = 5
time_limit = 10.0
reference = "newsvendor"

[[grid]]
name = "g"
family = ["sparse", "mnl"]
n_products = [5]
customers = [10]
tail = ["zipf:1.0"]
margin = ["medium"]
seeds = [0, 1]

[[method]]
name = "newsvendor"

[[method]]
name = "fluid"
"""


def _rows(path: Path) -> list[dict[str, str]]:
    from assortopt.bench import TIMING_COLUMNS

    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in csv.DictReader(fh)]


def test_bench_mpi_writes_the_serial_rows_and_resumes(tmp_path):
    from assortopt.bench import run_bench

    cfg = tmp_path / "mpi-tiny.toml"
    cfg.write_text(BENCH)
    serial = run_bench(cfg, tmp_path / "serial", progress=False)
    p = _mpi("bench", str(cfg), "--mpi", "-o", str(tmp_path / "par"))
    assert p.returncode == 0, p.stderr[-2000:]
    par = tmp_path / "par" / "results.csv"
    assert len(_rows(serial)) == 8
    assert _rows(par) == _rows(serial)
    # resume: drop the last cell's rows and tear a line; the rerun restores the same rows
    lines = par.read_text().splitlines()
    par.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:10])
    p = _mpi("bench", str(cfg), "--mpi", "-o", str(tmp_path / "par"), "--resume")
    assert p.returncode == 0, p.stderr[-2000:]
    assert _rows(par) == _rows(serial)
    # resume with one method's row of the first cell deleted: only it is planned again (the other
    # row's marked message survives), and the cell's comparisons are recomputed (as serial)
    lines = par.read_text().splitlines()
    first = next(csv.reader([lines[1]]))
    msg = lines[0].split(",").index("message")
    first[msg] = "kept"
    first[lines[0].split(",").index("gap_best")] = "99.0"  # wrong: must be recomputed
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(first)
    par.write_text("\n".join([lines[0], buf.getvalue().rstrip("\n"), *lines[3:]]) + "\n")
    p = _mpi("bench", str(cfg), "--mpi", "-o", str(tmp_path / "par"), "--resume")
    assert p.returncode == 0, p.stderr[-2000:]
    got, want = _rows(par), _rows(serial)
    assert got[0]["message"] == "kept"
    got[0]["message"] = want[0]["message"]
    assert got == want
    p = _mpi("bench", str(cfg), "--mpi", "-o", str(tmp_path / "par"))
    assert p.returncode == 2 and "exists" in p.stderr


def test_gap_interval_against_the_exact_optimum(tmp_path):
    from assortopt.exact import expected_profit, optimal_plan
    from assortopt.gap import gap_ci

    path = ROOT / "instances" / "tiny-mnl-n3-t6.json"
    inst = load_instance(path)
    q_opt, v_opt = optimal_plan(inst)
    zero = np.zeros(inst.n, np.int64)
    assert expected_profit(inst, zero) == 0.0
    good = gap_ci(inst, q_opt, replications=8, scenarios=30, seed=0, model="mip")
    bad = gap_ci(inst, zero, replications=8, scenarios=30, seed=0, model="mip")
    assert good.ci_low <= 0.0 <= good.ci_high
    assert good.upper < 0.05 * v_opt
    assert bad.ci_low > 0.5 * v_opt
    assert bad.upper >= v_opt  # MMW bound covers the true (DP) gap of the zero plan
    # the CLI prints the same estimate (spill-mip model by default)
    sol = tmp_path / "zero.json"
    sol.write_text(json.dumps({"format": "assortopt-solution/1", "stock": {}}))
    p = subprocess.run(
        [sys.executable, "-m", "assortopt", "gap", str(path), str(sol), "--replications", "4",
         "--scenarios", "10", "--model", "mip"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    ref = gap_ci(inst, zero, replications=4, scenarios=10, seed=0, model="mip")
    assert d["mean"] == pytest.approx(ref.mean) and d["ci_low"] > 0
    p = subprocess.run(
        [sys.executable, "-m", "assortopt", "gap", str(path), str(sol), "--replications", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 2 and "replications" in p.stderr


@pytest.mark.parametrize(
    "method,decomposition",
    [("spill-mip", "ef"), ("spill-mip", "ph"), ("saa-lp-all", "lshaped")],
)
def test_short_time_limit_holds(tmp_path, method, decomposition):
    """--time-limit 1 on chocolate (K = 100): the planning time stays within the rule's
    allowance L + max(0.1 L, 2 s) = 3 s, doubled for a loaded machine (before the build and
    PH were priced against the time left: 5.3 s for ef, 17.5 s for ph). Out of time, the run
    is `error` (exit 1) with termination time_limit and no stock, or a plan stopped at the
    limit; `lshaped` leaves its rounding a priced share of the limit (`_rounding_reserve`) and
    may also finish in time."""
    out = tmp_path / "short.json"
    p = _mpi(
        "solve", str(ROOT / "instances" / "chocolate.json"), "--method", method, "--mpi",
        "--decomposition", decomposition, "--time-limit", "1", "--eval-reps", "0",
        "-o", str(out),
    )  # fmt: skip
    d = json.loads(out.read_text())
    assert p.returncode == (1 if d["status"] == "error" else 0), p.stderr[-2000:]
    assert d["timings"]["plan_s"] <= 2 * (1 + 2)
    if decomposition == "lshaped" and d["termination"] != "time_limit":
        # the L-shaped run can finish on chocolate within 1 s: then it is a rounded plan
        assert d["status"] == "heuristic" and any(d["stock"].values())
        assert d["extra"]["mpi_status"] == "optimal"
        return
    assert d["termination"] == "time_limit"
    if d["status"] == "error":
        assert not any(d["stock"].values())


def test_cli_gap_spreads_the_replications_over_the_ranks(tmp_path):
    """`mpiexec -n 2 python -m mpi4py -m assortopt gap` (mpi4py imported, mpi4py.MPI not yet):
    one estimate on stdout, the same as in one process (each rank used to print its own)."""
    from assortopt.gap import gap_ci

    inst = load_instance(TINY)
    sol = tmp_path / "zero.json"
    sol.write_text(json.dumps({"format": "assortopt-solution/1", "stock": {}}))
    p = _mpi("gap", str(TINY), str(sol), "--replications", "4", "--scenarios", "5")
    assert p.returncode == 0, p.stderr[-2000:]
    d = json.loads(p.stdout)  # one JSON document
    ref = gap_ci(inst, np.zeros(inst.n, np.int64), replications=4, scenarios=5, seed=0)
    assert d["gaps"] == pytest.approx(ref.gaps)
    assert d["wall_s"] > 0


def test_build_floor_refuses_before_any_pyomo_model(monkeypatch):
    """`ef` and `ph` price their build by building and compiling scenario models (2 s at 1,000
    products, which alone broke a 1 s limit: mip/ef on sparse-n1000-t1000 planned 7.3 s under
    load). The array form prices first: K models at Pyomo's fastest rate must fit."""
    from assortopt.mpi import contract
    from assortopt.mpi.ef import PYOMO_SECONDS_PER_NNZ, OutOfTime, build_seconds

    kw = {"inst_path": str(TINY), "method": "mip", "num_scens": 100, "seed": 0}
    names = contract.scenario_names_creator(100)
    data = contract.scenario_data(str(TINY), "mip", 100, 0)
    nnz = contract.scenario_formulation(data, 0).lp.A.nnz
    floor = 100 * nnz * PYOMO_SECONDS_PER_NNZ
    real = contract.scenario_creator

    def no_pyomo(*a, **k):
        raise AssertionError("a Pyomo model was built")

    monkeypatch.setattr(contract, "scenario_creator", no_pyomo)
    with pytest.raises(OutOfTime, match="at least"):
        build_seconds(names, kw, 100, 0.5 * floor)
    monkeypatch.setattr(contract, "scenario_creator", real)
    per, compile_s = build_seconds(names, kw, 100, 10 * floor + 10)
    assert per > 0 and compile_s > 0
