"""Options and outputs are checked before any work (issue 20, "Options and outputs").

Every case here was seen misbehaving: a bad option reached the code as a crash (exit 1,
``internal error``) or was accepted silently, and an output path could overwrite the input or
be found unwritable only after the whole solve. Each test states the contract: exit 2, one line
naming the option (or file and field), and nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from assortopt.cli import main
from assortopt.exceptions import InstanceError, OptionError
from assortopt.instance import load_instance
from assortopt.methods.base import PlanRequest, get_method


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_exit_2(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], (w, err)


@pytest.fixture()
def inst_file(tmp_path: Path, chocolate_path: Path) -> Path:
    p = tmp_path / "same.json"
    shutil.copy(chocolate_path, p)
    return p


# ----------------------------------------------------------------------------- output paths
@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink"])
def test_output_onto_the_input_is_refused_and_the_input_kept(capsys, inst_file, spelling):
    before = inst_file.read_bytes()
    target = {
        "same": inst_file,
        "dotdot": inst_file.parent / "sub" / ".." / inst_file.name,
        "symlink": inst_file.parent / "link.json",
    }[spelling]
    (inst_file.parent / "sub").mkdir()
    if spelling == "symlink":
        target.symlink_to(inst_file)
    rc, _, err = _run(capsys, "solve", str(inst_file), "-m", "newsvendor", "-o", str(target))
    _one_line_exit_2(rc, err, "--output", "input file")
    assert inst_file.read_bytes() == before


def test_output_onto_a_directory_or_into_a_missing_one_is_refused(capsys, inst_file, tmp_path):
    for cmd in (
        ["solve", str(inst_file), "-m", "newsvendor"],
        ["generate", "mnl", "-n", "3", "-t", "5"],
    ):
        rc, _, err = _run(capsys, *cmd, "-o", str(tmp_path))
        _one_line_exit_2(rc, err, "is a directory")
        rc, _, err = _run(capsys, *cmd, "-o", str(tmp_path / "nodir" / "x.json"))
        _one_line_exit_2(rc, err, "does not exist")
    assert not (tmp_path / "nodir").exists()


def test_write_protected_output_is_not_replaced(capsys, inst_file, tmp_path):
    out = tmp_path / "sol.json"
    out.write_text("keep me\n")
    out.chmod(stat.S_IRUSR)
    try:
        rc, _, err = _run(capsys, "solve", str(inst_file), "-m", "newsvendor", "-o", str(out))
        _one_line_exit_2(rc, err, "write-protected")
        assert out.read_text() == "keep me\n"
    finally:
        out.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_symlinked_output_is_written_through_not_replaced(capsys, inst_file, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("{}\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    rc, _, err = _run(
        capsys, "solve", str(inst_file), "-m", "newsvendor", "--eval-reps", "0", "-o", str(link)
    )
    assert rc == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["method"] == "newsvendor"


def test_bench_output_onto_a_file_and_non_utf8_config_are_refused(capsys, tmp_path):
    cfg = Path(__file__).resolve().parents[1] / "benchmarks" / "smoke.toml"
    f = tmp_path / "file.txt"
    f.write_text("x")
    rc, _, err = _run(capsys, "bench", str(cfg), "-o", str(f))
    _one_line_exit_2(rc, err, "is a file")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "\xff\xfe"\n')
    rc, _, err = _run(capsys, "bench", str(bad))
    _one_line_exit_2(rc, err, "not UTF-8")


@pytest.mark.parametrize("content", ["", "a,b\n1,2\n"])
def test_bench_report_on_an_empty_or_foreign_results_csv(capsys, tmp_path, content):
    (tmp_path / "results.csv").write_text(content)
    rc, _, err = _run(capsys, "bench", "report", str(tmp_path))
    _one_line_exit_2(rc, err, "not a results directory")


# ----------------------------------------------------------------------------- option values
@pytest.mark.parametrize("command", ["solve", "evaluate", "gap", "generate"])
def test_negative_seed_is_refused_up_front(capsys, inst_file, tmp_path, command):
    sol = tmp_path / "sol.json"
    sol.write_text('{"stock": {}}')
    argv = {
        "solve": ["solve", str(inst_file)],
        "evaluate": ["evaluate", str(inst_file), str(sol)],
        "gap": ["gap", str(inst_file), str(sol)],
        "generate": ["generate", "mnl", "-n", "3", "-t", "5", "-o", str(tmp_path / "g.json")],
    }[command]
    rc, _, err = _run(capsys, *argv, "--seed", "-1")
    _one_line_exit_2(rc, err, "--seed", ">= 0")


@pytest.mark.parametrize(
    "param, key",
    [
        ("tail_step=abc", "tail_step"),
        ("tail_step=0", "tail_step"),
        ("add_back=maybe", "add_back"),
        ("window=1.5", "window"),
        ("window=-1", "window"),
        ("quantities=lots", "quantities"),
        ("saa_time_limit=nan", "saa_time_limit"),
    ],
)
def test_bad_heuristic_param_values_are_refused_by_name(capsys, inst_file, param, key):
    rc, _, err = _run(capsys, "solve", str(inst_file), "--param", param)
    _one_line_exit_2(rc, err, key, "expected")


@pytest.mark.parametrize(
    "method, param",
    [
        ("mip", "lp_first=sometimes"),
        ("mip", "formulation=weak"),
        ("local-search", "moves=up,sideways"),
        ("local-search", "max_sweeps=x"),
        ("saa-lp-all", "lp_scenarios=0"),
        ("spill-mip", "products=some"),
        ("fluid", "rounding=ceil"),
    ],
)
def test_bad_param_values_of_every_declaring_method(chocolate, method, param):
    key, _, value = param.partition("=")
    with pytest.raises(OptionError, match=key):
        get_method(method)(chocolate, PlanRequest(params={key: value}))


def test_declared_params_are_converted_to_their_type():
    from assortopt.methods.params import check_params, int_ge

    spec = {"window": int_ge(0)}
    assert check_params("m", spec, {"window": "2"}) == {"window": 2}
    assert check_params("m", spec, {"window": 2.0}) == {"window": 2}
    with pytest.raises(OptionError, match="does not take"):
        check_params("m", spec, {"windows": 1})


@pytest.mark.parametrize("value", ["abc", "nan", "1,x"])
def test_generate_set_values_of_the_wrong_type_are_refused(capsys, tmp_path, value):
    out = tmp_path / "g.json"
    rc, _, err = _run(
        capsys, "generate", "mnl", "-n", "3", "-t", "5", "-o", str(out), "--set", f"alpha={value}"
    )
    _one_line_exit_2(rc, err, "alpha")
    assert not out.exists()


# ----------------------------------------------------------------------------- validate
def _write(tmp_path: Path, chocolate_path: Path, edit) -> Path:
    d = json.loads(chocolate_path.read_text())
    edit(d)
    p = tmp_path / "edited.json"
    p.write_text(json.dumps(d))
    return p


def test_validate_rejects_prices_that_overflow_the_profit(capsys, tmp_path, chocolate_path):
    def edit(d):
        d["products"][1]["price"] = 1e308

    p = _write(tmp_path, chocolate_path, edit)
    rc, _, err = _run(capsys, "validate", str(p))
    _one_line_exit_2(rc, err, "products[1].price", "1e+15")


def test_validate_rejects_seasons_too_large_for_memory(capsys, tmp_path, chocolate_path):
    def edit(d):
        d["customers"]["mean"] = 10**9

    p = _write(tmp_path, chocolate_path, edit)
    rc, _, err = _run(capsys, "validate", str(p))
    _one_line_exit_2(rc, err, "customers.mean", "1e+07", "memory")


def test_ids_differing_only_by_surrounding_whitespace_are_rejected(tmp_path, chocolate_path):
    def edit(d):
        d["products"][1]["id"] = d["products"][0]["id"] + " "

    with pytest.raises(InstanceError, match=r"products\[1\]\.id.*whitespace"):
        load_instance(_write(tmp_path, chocolate_path, edit))


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"customers": {"mean": NaN}}', "customers.mean"),
        ('{"products": [{"id": "a"}, {"id": "b", "cost": 1, "cost": 2}]}', "products[1].cost"),
    ],
)
def test_nan_and_duplicate_key_errors_name_the_field(tmp_path, text, field):
    p = tmp_path / "x.json"
    p.write_text(text)
    with pytest.raises(InstanceError) as exc:
        load_instance(p)
    assert exc.value.field == field


# ----------------------------------------------------------------------------- evaluate warns
@pytest.mark.parametrize(
    "stock, instance, words",
    [
        ({"cocoa90": 1, "cocoa80": 1, "cocoa70": 1}, "chocolate", "max_products"),
        ({"cocoa90": 200}, "chocolate", "budget"),
        ({"cocoa90": 1}, "another", "another"),
    ],
)
def test_evaluate_warns_when_the_plan_breaks_the_instance(
    capsys, tmp_path, chocolate_path, stock, instance, words
):
    sol = tmp_path / "sol.json"
    sol.write_text(json.dumps({"instance": instance, "stock": stock}))
    rc, out, err = _run(capsys, "evaluate", str(chocolate_path), str(sol), "--reps", "50")
    assert rc == 0
    assert "warning" in err and words in err
    assert "mean" in json.loads(out)


def test_evaluate_of_a_plan_within_the_constraints_says_nothing(capsys, tmp_path, chocolate_path):
    sol = tmp_path / "sol.json"
    sol.write_text(json.dumps({"instance": "chocolate", "stock": {"cocoa90": 10}}))
    rc, _, err = _run(capsys, "evaluate", str(chocolate_path), str(sol), "--reps", "50")
    assert rc == 0 and err == ""


# ----------------------------------------------------------------------------- verbose log
def test_verbose_solver_log_goes_to_stderr_not_into_the_json(capfd, chocolate_path):
    rc = main(
        [
            "solve",
            str(chocolate_path),
            "--verbose",
            "--method",
            "spill-mip",
            "--param",
            "start=none",
            "--scenarios",
            "10",
            "--eval-reps",
            "0",
        ]
    )
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert json.loads(out)["method"] == "spill-mip"  # stdout is the JSON alone
    assert "HiGHS" in err  # the log went somewhere a user sees it
