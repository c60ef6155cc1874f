"""Columnar instance files (.npz): round trip, every command reads and writes them, and a broken
table gets the same one-line message as the same mistake in JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import random_instance

from assortopt.cli import main
from assortopt.exceptions import InstanceError
from assortopt.instance import (
    instance_from_dict,
    instance_to_columns,
    load_instance,
    save_instance,
)
from assortopt.npzio import write_npz_atomic


def same(a, b) -> bool:
    fields = ("price", "cost", "arrival", "salvage", "fixed_cost")
    return (
        a.ids == b.ids
        and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)
        and (a.transitions != b.transitions).nnz == 0
        and (a.customers_mean, a.customers_distribution)
        == (b.customers_mean, b.customers_distribution)
        and (a.max_products, a.budget, a.name, a.metadata)
        == (b.max_products, b.budget, b.name, b.metadata)
    )


@pytest.mark.parametrize("seed", range(3))
def test_round_trip(tmp_path, seed):
    inst = random_instance(
        30, seed, salvage=True, fixed=seed > 0, poisson=seed == 1, budget=50.0, max_products=9
    ).replace(name=f"r{seed}", metadata={"note": "x", "k": [1, 2]})
    p = tmp_path / "a.npz"
    save_instance(inst, p)
    back = load_instance(p)
    assert same(inst, back)
    # and through JSON: the same instance either way
    q = tmp_path / "a.json"
    save_instance(back, q)
    assert same(inst, load_instance(q))


def test_every_command_reads_and_writes_npz(tmp_path, capsys):
    p = tmp_path / "g.npz"
    argv = ["generate", "sparse", "--products", "40", "--customers", "60", "--seed", "2"]
    assert main([*argv, "-o", str(p)]) == 0
    assert main([*argv, "-o", str(tmp_path / "g.json")]) == 0
    assert same(load_instance(p), load_instance(tmp_path / "g.json"))
    capsys.readouterr()
    assert main(["validate", str(p)]) == 0
    capsys.readouterr()
    assert main(["bound", str(p)]) == 0
    b_npz = json.loads(capsys.readouterr().out)
    assert main(["bound", str(tmp_path / "g.json")]) == 0
    b_json = json.loads(capsys.readouterr().out)
    assert b_npz["value"] == b_json["value"] and b_npz["assortment"] == b_json["assortment"]
    sol = tmp_path / "s.json"
    rc = main(["solve", str(p), "--method", "newsvendor", "-o", str(sol)])
    assert rc == 0 and json.loads(sol.read_text())["stock"]


def _break(d, how):
    """The same mistake in the list form (JSON) and the columnar form (.npz)."""
    cols = d["products"]
    tr = d["transitions"]
    if how == "price":
        cols["price"][3] = -1.0
    elif how == "nan":
        cols["cost"][2] = np.nan
    elif how == "dup":
        cols["id"][4] = cols["id"][1]
    elif how == "self":
        tr["to"][5] = tr["from"][5]
    elif how == "rowsum":
        tr["prob"][0] = 5.0
    elif how == "pair":
        tr["from"][7], tr["to"][7] = tr["from"][6], tr["to"][6]
    elif how == "arrival":
        cols["arrival"][:] = 0.5
    return d


def _as_lists(d):
    out = {k: v for k, v in d.items() if k not in ("products", "transitions")}
    cols = d["products"]
    ids = cols["id"].tolist()
    out["products"] = [
        {k: (cols[k][i].item() if k != "id" else ids[i]) for k in cols} for i in range(len(ids))
    ]
    tr = d["transitions"]
    out["transitions"] = [
        {"from": ids[int(a)], "to": ids[int(b)], "prob": float(p)}
        for a, b, p in zip(tr["from"], tr["to"], tr["prob"], strict=True)
    ]
    return out


@pytest.mark.parametrize("how", ["price", "nan", "dup", "self", "rowsum", "pair", "arrival"])
def test_same_messages_as_json(tmp_path, how):
    inst = random_instance(12, 0)
    d = _break(instance_to_columns(inst), how)
    p = tmp_path / "bad.npz"
    write_npz_atomic(p, d)
    with pytest.raises(InstanceError) as npz_err:
        load_instance(p)
    lists = _as_lists(d)
    if how == "nan":  # JSON cannot hold NaN: the checker sees the same number either way
        lists["products"][2]["cost"] = float("nan")
    with pytest.raises(InstanceError) as json_err:
        instance_from_dict(lists, source=str(p))
    assert str(npz_err.value) == str(json_err.value)
    assert str(npz_err.value).startswith(str(p))


def test_columnar_only_mistakes(tmp_path):
    inst = random_instance(6, 1)
    d = instance_to_columns(inst)
    d["transitions"]["to"][0] = 99
    p = tmp_path / "x.npz"
    write_npz_atomic(p, d)
    with pytest.raises(InstanceError, match=r"transitions\[0\]\.to: unknown product position 99"):
        load_instance(p)
    d = instance_to_columns(inst)
    d["products"]["price"] = d["products"]["price"][:-1]
    write_npz_atomic(p, d)
    with pytest.raises(InstanceError, match=r"products\.price: must have 6 rows"):
        load_instance(p)
    np.savez(tmp_path / "noheader.npz", **{"products.id": np.array(["a"])})
    with pytest.raises(InstanceError, match="header: missing"):
        load_instance(tmp_path / "noheader.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(InstanceError, match="cannot read NPZ"):
        load_instance(tmp_path / "junk.npz")
    d = instance_to_columns(inst)
    d["products"]["colour"] = np.zeros(6)
    write_npz_atomic(p, d)
    with pytest.raises(InstanceError, match=r"products\.colour: unknown key"):
        load_instance(p)


def test_cli_one_line_error(tmp_path, capsys):
    d = _break(instance_to_columns(random_instance(8, 2)), "price")
    p = tmp_path / "bad.npz"
    write_npz_atomic(p, d)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "products[3].price: must be > 0" in err
