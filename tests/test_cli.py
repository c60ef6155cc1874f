"""The command line end to end: the README's commands, exit statuses, reproducibility.

Most tests call `assortopt.cli.main` in-process (fast); the no-traceback checks run the real
``python -m assortopt`` in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assortopt.cli import main
from assortopt.instance import load_instance
from assortopt.simulation import simulate
from assortopt.solution import load_solution

FAST_METHODS = ["heuristic", "newsvendor", "pooled-newsvendor", "fluid", "saa-lp-all"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _json(text: str) -> dict:
    return json.loads(text)


@pytest.mark.parametrize("method", FAST_METHODS)
def test_solution_file_reevaluates_to_the_same_numbers(capsys, tmp_path, chocolate_path, method):
    out = tmp_path / "sol.json"
    rc, _, err = _run(
        capsys,
        "solve",
        str(chocolate_path),
        "-m",
        method,
        "-k",
        "20",
        "--eval-reps",
        "500",
        "-o",
        str(out),
    )
    assert rc == 0, err
    sol = _json(out.read_text())
    assert sol["format"] == "assortopt-solution/1" and sol["method"] == method
    rc, stdout, _ = _run(
        capsys,
        "evaluate",
        str(chocolate_path),
        str(out),
        "--reps",
        "500",
        "--seed",
        str(sol["evaluation"]["seed"]),
    )
    assert rc == 0
    ev = _json(stdout)
    assert ev["mean"] == pytest.approx(sol["evaluation"]["mean"], rel=1e-12, abs=1e-9)
    assert ev["stderr"] == pytest.approx(sol["evaluation"]["stderr"], rel=1e-12, abs=1e-9)
    # the file honours the instance's constraints
    inst = load_instance(chocolate_path)
    stock = load_solution(out, inst).stock
    assert (stock > 0).sum() <= inst.max_products
    assert float(inst.cost @ stock) <= inst.budget + 1e-9
    assert sol["assortment"] == [i for i in inst.ids if sol["stock"].get(i, 0) > 0]


def test_same_command_same_file(capsys, tmp_path, chocolate_path):
    files = []
    for name in ("a.json", "b.json"):
        p = tmp_path / name
        assert (
            _run(
                capsys,
                "solve",
                str(chocolate_path),
                "-k",
                "15",
                "--seed",
                "3",
                "--eval-reps",
                "300",
                "-o",
                str(p),
            )[0]
            == 0
        )
        d = _json(p.read_text())
        d.pop("timings")
        files.append(d)
    assert files[0] == files[1]
    # another seed plans on other customers: the in-sample objective changes
    p = tmp_path / "c.json"
    _run(
        capsys,
        "solve",
        str(chocolate_path),
        "-k",
        "15",
        "--seed",
        "4",
        "--eval-reps",
        "300",
        "-o",
        str(p),
    )
    assert _json(p.read_text())["objective"] != files[0]["objective"]


def test_evaluate_matches_the_library_simulator(capsys, tmp_path, chocolate_path):
    sol = tmp_path / "s.json"
    sol.write_text(
        json.dumps({"format": "assortopt-solution/1", "stock": {"cocoa90": 40, "cocoa80": 25}})
    )
    rc, out, _ = _run(
        capsys, "evaluate", str(chocolate_path), str(sol), "--reps", "400", "--seed", "9"
    )
    assert rc == 0
    ev = _json(out)
    inst = load_instance(chocolate_path)
    ref = simulate(inst, np.array([40, 25, 0]), reps=400, seed=9)
    assert ev["mean"] == pytest.approx(ref.mean) and ev["reps"] == 400 and ev["seed"] == 9
    assert ev["sales"]["cocoa70"] == 0.0
    assert 0.0 < ev["fill_rate"] <= 1.0


def test_bound_prints_value_and_assortment(capsys, chocolate_path):
    rc, out, _ = _run(capsys, "bound", str(chocolate_path))
    d = _json(out)
    assert rc == 0 and d["value"] > 0
    inst = load_instance(chocolate_path)
    assert set(d["assortment"]) <= set(inst.ids)
    # the instance has max_products and fixed costs: the result says the bound ignores them
    assert "max_products" in d["ignored"]


def test_generate_then_validate_then_solve(capsys, tmp_path):
    p = tmp_path / "g.json"
    rc, _, err = _run(
        capsys,
        "generate",
        "sparse",
        "--products",
        "25",
        "--customers",
        "60",
        "--seed",
        "2",
        "-o",
        str(p),
        "--set",
        "alpha=1.2",
    )
    assert rc == 0, err
    assert _run(capsys, "validate", str(p))[0] == 0
    q = tmp_path / "g2.json"
    _run(
        capsys,
        "generate",
        "sparse",
        "--products",
        "25",
        "--customers",
        "60",
        "--seed",
        "2",
        "-o",
        str(q),
        "--set",
        "alpha=1.2",
    )
    assert p.read_text() == q.read_text()
    rc, out, _ = _run(capsys, "solve", str(p), "-k", "10", "--eval-reps", "200")
    assert rc == 0 and _json(out)["instance"] == load_instance(p).name


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["solve", "{missing}"], "missing.json"),
        (["solve", "{bad}"], "products[2].price"),
        (["solve", "{choc}", "-m", "no-such-method"], "unknown method"),
        (["solve", "{choc}", "-k", "0"], "scenarios"),
        (["solve", "{choc}", "--param", "nonsense=1"], "nonsense"),
        (["solve", "{choc}", "--write-model", "{tmp}/m.txt"], ".mps or .lp"),
        (["evaluate", "{choc}", "{bad}"], "bad_instance_negative_price.json"),
        (["validate", "{choc}", "{bad}"], "products[2].price"),
        (["generate", "nope", "-n", "3", "-t", "5", "-o", "{tmp}/x.json"], "nope"),
        (["bench", "{tmp}/none.toml"], "none.toml"),
        (["bench", "report", "{tmp}"], ""),
        (["solve"], "instance"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, chocolate_path, argv, needle):
    data = Path(__file__).parent / "data"
    subs = {
        "{missing}": str(tmp_path / "missing.json"),
        "{bad}": str(data / "bad_instance_negative_price.json"),
        "{choc}": str(chocolate_path),
        "{tmp}": str(tmp_path),
    }
    args = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2, (args, out, err)
    lines = [ln for ln in err.splitlines() if ln.strip() and "ok (" not in ln]
    assert len(lines) == 1 or argv[0] == "solve" and len(argv) == 1, err
    assert needle in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "m.txt").exists()


def test_failed_solve_writes_nothing(capsys, tmp_path):
    out = tmp_path / "out.json"
    bad = Path(__file__).parent / "data" / "bad_instance_negative_price.json"
    assert main(["solve", str(bad), "-o", str(out)]) == 2
    capsys.readouterr()
    assert not out.exists()


def test_python_m_assortopt_has_no_traceback(tmp_path):
    bad = Path(__file__).parent / "data" / "bad_instance_row_sum.json"
    r = subprocess.run(
        [sys.executable, "-m", "assortopt", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "transitions" in r.stderr and bad.name in r.stderr


# ----------------------------------------------------------------------------- mip from the CLI
def _dense3_file(tmp_path: Path, **kw: object) -> Path:
    """3 products, every pair substitutes with prob. 0.4, 6 customers (the MIP benchmark kind)."""
    import scipy.sparse as sp

    from assortopt.instance import Instance, save_instance

    rho = np.full((3, 3), 0.4)
    np.fill_diagonal(rho, 0)
    inst = Instance(
        ids=("a", "b", "c"),
        price=np.array([10.0, 8, 6]),
        cost=np.array([5.0, 3, 4]),
        arrival=np.array([0.35, 0.3, 0.25]),
        transitions=sp.csr_array(rho),
        customers_mean=6,
        name="dense3",
    ).replace(**kw)
    path = tmp_path / "dense3.json"
    save_instance(inst, path)
    return path


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_write_model_file_solves_to_the_reported_objective(capsys, tmp_path, suffix):
    """The exported model, read back by a fresh HiGHS, has the solution file's optimum."""
    import highspy

    inst_path = _dense3_file(tmp_path)
    model = tmp_path / f"m{suffix}"
    out = tmp_path / "sol.json"
    rc, _, err = _run(
        capsys,
        *f"solve {inst_path} -m mip -k 30 --eval-reps 200 -o {out}".split(),
        "--write-model",
        str(model),
    )
    assert rc == 0, err
    sol = _json(out.read_text())
    assert sol["status"] == "optimal"
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(model)) == highspy.HighsStatus.kOk
    assert h.getLp().integrality_ and any(
        v == highspy.HighsVarType.kInteger for v in h.getLp().integrality_
    )
    h.setOptionValue("mip_rel_gap", 0.0)
    h.run()
    assert h.modelStatusToString(h.getModelStatus()) == "Optimal"
    assert h.getInfo().objective_function_value == pytest.approx(sol["objective"], abs=1e-6)


def test_infeasible_constraints_exit_0_with_status_and_message(capsys, tmp_path):
    inst_path = _dense3_file(tmp_path, budget=4.0)
    argv = f"solve {inst_path} -m mip -k 5 --param start=none --eval-reps 100".split()
    rc, out, err = _run(capsys, *argv, "--param", 'min_stock={"a": 1}')
    assert rc == 0
    sol = _json(out)
    assert sol["status"] == "infeasible"
    assert "infeasible:" in err and "budget" in err
    assert "Traceback" not in err


def test_time_limited_mip_returns_incumbent_as_feasible(capsys, tmp_path, chocolate_path):
    """chocolate with K = 60 long seasons cannot be proved in 2 s by the strong HiGHS model (the
    default ``bnb`` certifies it): the plan comes back as ``feasible``, no worse in-sample than
    the heuristic warm start, with any bound valid."""
    out = tmp_path / "sol.json"
    argv = (
        f"solve {chocolate_path} -m mip --formulation strong -k 60 --time-limit 2 "
        f"--eval-reps 200 -o {out}"
    )
    rc, _, err = _run(capsys, *argv.split())
    assert rc == 0, err
    sol = _json(out.read_text())
    assert sol["status"] == "feasible"
    assert sol["stock"] and sol["objective"] is not None
    # never worse in-sample than its warm start (the heuristic plan)
    assert sol["extra"]["start"] == "heuristic"
    assert sol["objective"] >= sol["extra"]["start_objective"] - 1e-9
    if "mip_bound" in sol:  # a bound only if the relaxation or the MIP got that far
        assert sol["mip_bound"] >= sol["objective"] - 1e-9
        assert sol["mip_gap"] == pytest.approx(
            (sol["mip_bound"] - sol["objective"]) / abs(sol["objective"]), rel=1e-6
        )
