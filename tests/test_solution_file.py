"""Solution files (README.md): valid files load into a stock array; each bad field is rejected
with the file and field named; writing is atomic or goes to stdout."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assortopt.exceptions import InstanceError
from assortopt.instance import Instance
from assortopt.solution import (
    SOLUTION_FORMAT,
    LoadedSolution,
    load_solution,
    solution_from_dict,
    write_solution,
)


def example() -> dict[str, Any]:
    """The solution example of README.md, for the chocolate instance."""
    return {
        "format": "assortopt-solution/1",
        "instance": "chocolate",
        "method": "heuristic",
        "status": "optimal",
        "stock": {"cocoa90": 47, "cocoa80": 30},
        "assortment": ["cocoa90", "cocoa80"],
        "objective": 512.3,
        "lp_bound": 560.1,
        "evaluation": {"mean": 508.9, "stderr": 1.2, "reps": 10000, "seed": 1},
        "seed": 0,
        "scenarios": 100,
        "timings": {"total_s": 1.9},
    }


def test_example_loads_with_unlisted_products_at_zero(tmp_path: Path, chocolate: Instance):
    path = tmp_path / "sol.json"
    path.write_text(json.dumps(example()))
    sol = load_solution(path, chocolate)
    assert isinstance(sol, LoadedSolution)
    assert sol.stock.dtype == np.int64
    np.testing.assert_array_equal(sol.stock, [47, 30, 0])
    assert sol.data == example()  # every key kept as read


@pytest.mark.parametrize(
    "stock, expected",
    [
        ({}, [0, 0, 0]),
        ({"cocoa70": 5}, [0, 0, 5]),
        ({"cocoa70": 5.0, "cocoa90": 0}, [0, 0, 5]),
        ({"cocoa80": 2**40}, [0, 2**40, 0]),
    ],
)
def test_minimal_files_load(tmp_path: Path, chocolate: Instance, stock: dict, expected: list):
    # Only `stock` is required; `format` may be left out; extra keys are allowed.
    path = tmp_path / "min.json"
    path.write_text(json.dumps({"stock": stock, "note": "hand-made"}))
    np.testing.assert_array_equal(load_solution(path, chocolate).stock, expected)


BAD = {
    "format-wrong": ({"format": "assortopt-instance/1"}, "format"),
    "format-null": ({"format": None}, "format"),
    "stock-missing": ({"stock": None}, "stock"),
    "stock-list": ({"stock": [47, 30, 0]}, "stock"),
    "stock-unknown-id": ({"stock": {"cocoa90": 1, "milk": 2}}, "stock.milk"),
    "units-negative": ({"stock": {"cocoa90": -3}}, "stock.cocoa90"),
    "units-fraction": ({"stock": {"cocoa80": 2.5}}, "stock.cocoa80"),
    "units-string": ({"stock": {"cocoa80": "2"}}, "stock.cocoa80"),
    "units-bool": ({"stock": {"cocoa70": True}}, "stock.cocoa70"),
    "units-null": ({"stock": {"cocoa70": None}}, "stock.cocoa70"),
    "units-list": ({"stock": {"cocoa70": [1]}}, "stock.cocoa70"),
    "units-huge": ({"stock": {"cocoa70": 10**30}}, "stock.cocoa70"),
    "units-enormous": ({"stock": {"cocoa70": 10**400}}, "stock.cocoa70"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_fields_are_rejected_naming_file_and_field(
    case: str, tmp_path: Path, chocolate: Instance
):
    change, field = BAD[case]
    d = example()
    d.update(change)
    if d["stock"] is None:
        del d["stock"]
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InstanceError) as info:
        load_solution(path, chocolate)
    assert info.value.field == field
    assert str(info.value).startswith(f"{path}: {field}: ")
    if field.startswith("stock."):
        assert "units must be a whole number >= 0" in str(info.value) or "unknown" in str(
            info.value
        )


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"stock": {"cocoa90": NaN}}', "NaN is not allowed"),
        ('{"stock": {"cocoa90": 1, "cocoa90": 2}}', "duplicate key 'cocoa90'"),
        ('{"stock": {"cocoa90": 1}', "invalid JSON"),
        ('[{"stock": {}}]', "must be a JSON object"),
    ],
)
def test_bad_json_is_rejected_naming_the_file(
    text: str, reason: str, tmp_path: Path, chocolate: Instance
):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(InstanceError) as info:
        load_solution(path, chocolate)
    assert str(info.value).startswith(f"{path}: ") and reason in str(info.value)


def test_overflowing_units_literal_is_rejected(tmp_path: Path, chocolate: Instance):
    path = tmp_path / "inf.json"
    path.write_text('{"stock": {"cocoa90": 1e999}}')
    with pytest.raises(InstanceError, match=r"inf\.json: stock\.cocoa90: units must be"):
        load_solution(path, chocolate)


def test_missing_file(tmp_path: Path, chocolate: Instance):
    with pytest.raises(InstanceError, match=r"gone\.json: no such file"):
        load_solution(tmp_path / "gone.json", chocolate)


def test_write_then_load_round_trips(tmp_path: Path, tiny3: Instance):
    data = {"format": SOLUTION_FORMAT, "stock": tiny3.stock_dict(np.array([0, 4, 2]))}
    data["assortment"] = list(data["stock"])
    path = tmp_path / "plan.json"
    write_solution(path, data)
    sol = load_solution(path, tiny3)
    np.testing.assert_array_equal(sol.stock, [0, 4, 2])
    assert sol.data == data
    assert os.listdir(tmp_path) == ["plan.json"]


@pytest.mark.parametrize("target", [None, "-"])
def test_write_to_stdout(target: str | None, capsys: pytest.CaptureFixture[str], tiny3: Instance):
    write_solution(target, {"stock": {"b": 1}})
    out = capsys.readouterr().out
    assert out.endswith("\n")
    np.testing.assert_array_equal(solution_from_dict(json.loads(out), tiny3).stock, [0, 1, 0])


def test_solution_from_dict_without_a_file(tiny3: Instance):
    with pytest.raises(InstanceError) as info:
        solution_from_dict({"stock": {"a": -1}}, tiny3)
    assert str(info.value) == "stock.a: units must be a whole number >= 0, got -1"
