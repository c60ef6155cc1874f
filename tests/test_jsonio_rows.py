"""The fast path of `assortopt.jsonio.dumps` for long lists of rows (a million transitions) writes
exactly the layout of the general path: one row per line, rows as `json.dumps` writes them."""

from __future__ import annotations

import json

import pytest

from assortopt.jsonio import dumps


def _expected(rows: list, indent: int = 0) -> str:
    pad = " " * (indent + 2)
    lines = [pad + json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in rows]
    return "[\n" + ",\n".join(lines) + "\n" + " " * indent + "]"


TRICKY = ["}, {", "},\x00{", ": {", ": [", "a\x00b", "naïve ☃", '"q"', "\\", "]", "{}"]


def test_long_list_of_rows_matches_one_row_per_line():
    rows = [
        {"from": TRICKY[k % len(TRICKY)], "to": f"p{k}", "prob": k / 7, "n": k, "ok": k % 2 == 0}
        for k in range(200)
    ]
    rows[5] = {}
    rows[6] = {"x": None}
    text = dumps(rows)
    assert text == _expected(rows) + "\n"
    assert json.loads(text) == rows


def test_rows_inside_an_object_keep_their_indent():
    doc = {"format": "x", "transitions": [{"from": str(k), "prob": 0.5} for k in range(50)]}
    text = dumps(doc)
    want = '{\n  "format": "x",\n  "transitions": ' + _expected(doc["transitions"], 2) + "\n}\n"
    assert text == want


def test_rows_holding_containers_take_the_general_path():
    rows = [{"a": k, "b": [1, 2]} if k == 17 else {"a": k} for k in range(60)]
    assert dumps(rows) == _expected(rows) + "\n"
    rows[17] = {"a": {"deep": [1, 2, 3]}}
    assert json.loads(dumps(rows)) == rows


def test_nan_is_refused_on_the_fast_path():
    with pytest.raises(ValueError):
        dumps([{"p": float("nan")} for _ in range(50)])
