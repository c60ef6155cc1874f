"""Instance files: every rule of the instance format (README.md) rejects a violating file naming
the file and field; valid variants load; save → load is exact; the dense and sparse transition
forms agree."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from assortopt.exceptions import InstanceError
from assortopt.instance import (
    FORMAT,
    Instance,
    instance_from_dict,
    instance_to_dict,
    load_instance,
    save_instance,
    validate_file,
)
from assortopt.jsonio import dumps, read_json, write_json_atomic

CHOCOLATE = Path(__file__).resolve().parents[1] / "instances" / "chocolate.json"
DATA_DIR = Path(__file__).resolve().parent / "data"
DENSE = [[0.0, 0.6, 0.0], [0.0, 0.0, 0.3], [0.0, 0.0, 0.0]]


def sparse_dict() -> dict[str, Any]:
    """A fresh copy of the chocolate file (sparse transitions, constraints, salvage, fixed cost)."""
    return json.loads(CHOCOLATE.read_text())


def dense_dict() -> dict[str, Any]:
    """The chocolate file with the same chain given as a dense transition_matrix."""
    d = sparse_dict()
    del d["transitions"]
    d["transition_matrix"] = copy.deepcopy(DENSE)
    return d


def put(*path_and_value: Any) -> Callable[[dict], None]:
    """Mutation: set d[p0][p1]... = value."""
    *path, value = path_and_value

    def mutate(d: dict) -> None:
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def drop(*path: Any) -> Callable[[dict], None]:
    """Mutation: delete d[p0][p1]..."""

    def mutate(d: dict) -> None:
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        for m in mutations:
            m(d)

    return mutate


def add_transition(frm: str, to: str, prob: Any) -> Callable[[dict], None]:
    return lambda d: d["transitions"].append({"from": frm, "to": to, "prob": prob})


def trap_sparse(d: dict) -> None:
    # cocoa90 -> cocoa80 -> cocoa90 with probability 1 each: no way out once both are missing.
    d["transitions"] = [
        {"from": "cocoa90", "to": "cocoa80", "prob": 1.0},
        {"from": "cocoa80", "to": "cocoa90", "prob": 1.0},
        {"from": "cocoa70", "to": "cocoa90", "prob": 0.5},
    ]


# (mutation, base, field the message must name)
S, D = sparse_dict, dense_dict
BAD = {
    # top level
    "top-list": (lambda d: d.clear() or None, S, "customers"),
    "unknown-top-key": (put("extra", 1), S, "extra"),
    "format-wrong": (put("format", "assortopt-instance/2"), S, "format"),
    "format-number": (put("format", 1), S, "format"),
    "name-number": (put("name", 3), S, "name"),
    # customers
    "customers-missing": (drop("customers"), S, "customers"),
    "customers-list": (put("customers", [100]), S, "customers"),
    "customers-unknown-key": (put("customers", "std", 3), S, "customers.std"),
    "mean-missing": (drop("customers", "mean"), S, "customers.mean"),
    "mean-zero": (put("customers", "mean", 0), S, "customers.mean"),
    "mean-negative": (put("customers", "mean", -5), S, "customers.mean"),
    "mean-fractional-fixed": (put("customers", "mean", 100.5), S, "customers.mean"),
    "mean-string": (put("customers", "mean", "100"), S, "customers.mean"),
    "mean-bool": (put("customers", "mean", True), S, "customers.mean"),
    "mean-null": (put("customers", "mean", None), S, "customers.mean"),
    "distribution-unknown": (
        put("customers", "distribution", "normal"),
        S,
        "customers.distribution",
    ),
    "distribution-number": (put("customers", "distribution", 1), S, "customers.distribution"),
    # products: structure and ids
    "products-missing": (drop("products"), S, "products"),
    "products-object": (put("products", {"cocoa90": {}}), S, "products"),
    "products-empty": (put("products", []), S, "products"),
    "product-string": (put("products", 1, "cocoa80"), S, "products[1]"),
    "product-list": (put("products", 1, [1, 2]), S, "products[1]"),
    "product-unknown-key": (put("products", 0, "colour", "brown"), S, "products[0].colour"),
    "id-missing": (drop("products", 1, "id"), S, "products[1].id"),
    "id-empty": (put("products", 1, "id", ""), S, "products[1].id"),
    "id-number": (put("products", 1, "id", 80), S, "products[1].id"),
    "id-duplicate": (put("products", 2, "id", "cocoa90"), S, "products[2].id"),
    # products: numbers
    "price-missing": (drop("products", 0, "price"), S, "products[0].price"),
    "price-zero": (put("products", 0, "price", 0), S, "products[0].price"),
    "price-negative": (put("products", 2, "price", -1.0), S, "products[2].price"),
    "price-string": (put("products", 0, "price", "10"), S, "products[0].price"),
    "price-bool": (put("products", 0, "price", True), S, "products[0].price"),
    "price-null": (put("products", 0, "price", None), S, "products[0].price"),
    "price-list": (put("products", 0, "price", [10]), S, "products[0].price"),
    "price-huge-int": (put("products", 0, "price", 10**400), S, "products[0].price"),
    "cost-missing": (drop("products", 1, "cost"), S, "products[1].cost"),
    "cost-negative": (put("products", 1, "cost", -0.5), S, "products[1].cost"),
    "salvage-negative": (put("products", 1, "salvage", -0.5), S, "products[1].salvage"),
    "salvage-above-cost": (put("products", 1, "salvage", 4.0), S, "products[1].salvage"),
    "salvage-equals-price": (
        both(put("products", 0, "price", 4.0), put("products", 0, "salvage", 4.0)),
        S,
        "products[0].salvage",
    ),
    "salvage-string": (put("products", 1, "salvage", "1"), S, "products[1].salvage"),
    "fixed-cost-negative": (put("products", 2, "fixed_cost", -20), S, "products[2].fixed_cost"),
    "fixed-cost-null": (put("products", 2, "fixed_cost", None), S, "products[2].fixed_cost"),
    "arrival-missing": (drop("products", 0, "arrival"), S, "products[0].arrival"),
    "arrival-negative": (put("products", 2, "arrival", -0.01), S, "products[2].arrival"),
    "arrival-sum-above-1": (put("products", 0, "arrival", 0.7), S, "products[*].arrival"),
    # sparse transitions
    "transitions-object": (put("transitions", {"cocoa90": "cocoa80"}), S, "transitions"),
    "transition-string": (put("transitions", 0, "cocoa80"), S, "transitions[0]"),
    "transition-unknown-key": (put("transitions", 1, "weight", 1), S, "transitions[1].weight"),
    "transition-prob-missing": (drop("transitions", 0, "prob"), S, "transitions[0].prob"),
    "transition-from-missing": (drop("transitions", 1, "from"), S, "transitions[1].from"),
    "transition-from-unknown": (put("transitions", 0, "from", "cocoa99"), S, "transitions[0].from"),
    "transition-to-unknown": (put("transitions", 1, "to", "milk"), S, "transitions[1].to"),
    "transition-to-number": (put("transitions", 1, "to", 2), S, "transitions[1].to"),
    "transition-self-loop": (put("transitions", 1, "to", "cocoa80"), S, "transitions[1].to"),
    "transition-prob-negative": (put("transitions", 1, "prob", -0.1), S, "transitions[1].prob"),
    "transition-prob-string": (put("transitions", 0, "prob", "0.6"), S, "transitions[0].prob"),
    "transition-prob-bool": (put("transitions", 0, "prob", False), S, "transitions[0].prob"),
    "transition-duplicate": (add_transition("cocoa90", "cocoa80", 0.1), S, "transitions[2]"),
    "transition-row-above-1": (add_transition("cocoa90", "cocoa70", 0.5), S, "transitions"),
    "trap": (trap_sparse, S, "transitions"),
    "both-forms": (put("transition_matrix", DENSE), S, "transition_matrix"),
    # dense transitions
    "matrix-object": (put("transition_matrix", {"0": [0, 0, 0]}), D, "transition_matrix"),
    "matrix-rows": (put("transition_matrix", DENSE[:2]), D, "transition_matrix"),
    "matrix-row-short": (put("transition_matrix", 1, [0.0, 0.0]), D, "transition_matrix[1]"),
    "matrix-row-number": (put("transition_matrix", 1, 0.0), D, "transition_matrix[1]"),
    "matrix-entry-string": (put("transition_matrix", 0, 1, "0.6"), D, "transition_matrix[0][1]"),
    "matrix-entry-null": (put("transition_matrix", 2, 0, None), D, "transition_matrix[2][0]"),
    "matrix-negative": (put("transition_matrix", 2, 1, -0.2), D, "transition_matrix[2][1]"),
    "matrix-diagonal": (put("transition_matrix", 2, 2, 0.1), D, "transition_matrix[2][2]"),
    "matrix-row-above-1": (put("transition_matrix", 0, 2, 0.5), D, "transition_matrix[0]"),
    "matrix-trap": (
        put("transition_matrix", [[0, 0, 1.0], [0.5, 0, 0], [1.0, 0, 0]]),
        D,
        "transition_matrix",
    ),
    # constraints, metadata
    "constraints-list": (put("constraints", [2, 400]), S, "constraints"),
    "constraints-unknown-key": (put("constraints", "max_units", 5), S, "constraints.max_units"),
    "max-products-negative": (
        put("constraints", "max_products", -1),
        S,
        "constraints.max_products",
    ),
    "max-products-fraction": (
        put("constraints", "max_products", 1.5),
        S,
        "constraints.max_products",
    ),
    "max-products-bool": (put("constraints", "max_products", True), S, "constraints.max_products"),
    "max-products-string": (put("constraints", "max_products", "2"), S, "constraints.max_products"),
    "budget-negative": (put("constraints", "budget", -1.0), S, "constraints.budget"),
    "budget-string": (put("constraints", "budget", "400"), S, "constraints.budget"),
    "budget-null": (put("constraints", "budget", None), S, "constraints.budget"),
    "metadata-list": (put("metadata", ["a"]), S, "metadata"),
}


def _expect_rejected(path: Path, field: str) -> InstanceError:
    with pytest.raises(InstanceError) as info:
        load_instance(path)
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}: "), message
    assert err.field == field and err.source == str(path)
    return err


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_each_rule_rejects_a_violating_file_naming_file_and_field(case: str, tmp_path: Path):
    mutate, base, field = BAD[case]
    d = base()
    mutate(d)
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(d))
    _expect_rejected(path, field)


def test_the_unmutated_bases_are_valid():
    # Guards the table above: each case fails because of its own mutation only.
    for base in (sparse_dict, dense_dict):
        inst = instance_from_dict(base())
        assert inst.n == 3


def test_top_level_must_be_an_object(tmp_path: Path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([sparse_dict()]))
    with pytest.raises(InstanceError, match=r"list\.json: must be a JSON object"):
        load_instance(path)


def test_trap_names_a_trapped_product_and_its_group(tmp_path: Path):
    d = sparse_dict()
    trap_sparse(d)
    path = tmp_path / "trap.json"
    path.write_text(json.dumps(d))
    err = _expect_rejected(path, "transitions")
    # cocoa70 can leave (its row sums to 0.5) even though it leads into the trap.
    assert err.reason == (
        "customers at cocoa90 can never leave "
        "(rows of cocoa90, cocoa80 sum to 1 and lead only to each other)"
    )


@pytest.mark.parametrize(
    "literal, field",
    [
        ("1e999", "products[0].price"),
        ("-1e999", "products[0].price"),
    ],
)
def test_overflowing_numbers_are_not_finite(tmp_path: Path, literal: str, field: str):
    text = json.dumps(sparse_dict()).replace('"price": 10.0', f'"price": {literal}', 1)
    path = tmp_path / "overflow.json"
    path.write_text(text)
    err = _expect_rejected(path, field)
    assert "finite" in err.reason


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize(
    "where, field",
    [
        (("products", 1, "cost"), "products[1].cost"),
        (("products", 2, "arrival"), "products[2].arrival"),
        (("transitions", 0, "prob"), "transitions[0].prob"),
        (("customers", "mean"), "customers.mean"),
        (("constraints", "budget"), "constraints.budget"),
    ],
)
def test_non_finite_python_values_are_rejected(value: float, where: tuple, field: str):
    d = sparse_dict()
    put(*where, value)(d)
    with pytest.raises(InstanceError) as info:
        instance_from_dict(d, source="mem.json")
    assert info.value.field == field
    assert str(info.value).startswith(f"mem.json: {field}: ")


def test_non_finite_metadata_is_rejected():
    d = sparse_dict()
    d["metadata"] = {"x": float("nan")}
    with pytest.raises(InstanceError, match="metadata"):
        instance_from_dict(d)


# ------------------------------------------------------------------ strict JSON reading
@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"format": NaN}', "NaN is not allowed"),
        ('{"customers": {"mean": Infinity}}', "Infinity is not allowed"),
        ('{"customers": {"mean": -Infinity}}', "-Infinity is not allowed"),
        ('{"name": "a", "name": "b"}', "duplicate key 'name'"),
        ('{"products": [}', "invalid JSON at line 1 column 15"),
        ("", "invalid JSON at line 1 column 1"),
        ('{\n  "a": 1,\n}', "invalid JSON at line 3 column 1"),
    ],
)
def test_read_json_rejects_bad_json_naming_the_file(tmp_path: Path, text: str, reason: str):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(InstanceError) as info:
        load_instance(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and reason in message and "\n" not in message


def test_read_json_rejects_missing_directory_and_non_utf8(tmp_path: Path):
    with pytest.raises(InstanceError, match=r"nope\.json: no such file"):
        load_instance(tmp_path / "nope.json")
    with pytest.raises(InstanceError, match="is a directory"):
        load_instance(tmp_path)
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(InstanceError, match="UTF-8"):
        read_json(path)


def test_read_json_accepts_utf8_bom(tmp_path: Path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + CHOCOLATE.read_bytes())
    assert load_instance(path).ids == ("cocoa90", "cocoa80", "cocoa70")


@pytest.mark.parametrize("name", sorted(p.name for p in DATA_DIR.glob("bad_instance_*.json")))
def test_shipped_broken_files_are_rejected(name: str):
    # Each broken example file says in its metadata which field its message must name.
    path = DATA_DIR / name
    expected = json.loads(path.read_text())["metadata"]["expect_field"]
    _expect_rejected(path, expected)


# ------------------------------------------------------------------ valid variants
VALID = {
    "poisson-fractional-mean": put("customers", {"mean": 99.5, "distribution": "poisson"}),
    "distribution-default": drop("customers", "distribution"),
    "mean-whole-float": put("customers", "mean", 100.0),
    "no-transitions": drop("transitions"),
    "empty-transitions": put("transitions", []),
    "no-constraints": drop("constraints"),
    "empty-constraints": put("constraints", {}),
    "zero-constraints": put("constraints", {"max_products": 0, "budget": 0}),
    "max-products-whole-float": put("constraints", "max_products", 2.0),
    "no-metadata-name-format": both(drop("metadata"), drop("name"), drop("format")),
    "salvage-equals-cost": put("products", 1, "salvage", 3.0),
    "zero-cost-zero-arrival": both(put("products", 0, "cost", 0), put("products", 2, "arrival", 0)),
    "integer-numbers": put("products", 0, {"id": "cocoa90", "price": 10, "cost": 5, "arrival": 0}),
    "arrival-sum-1-within-slack": put("products", 0, "arrival", 0.6 + 1e-10),
    "row-sum-1-with-exit-reachable": put("transitions", 0, "prob", 1.0),
    "row-sum-above-1-within-slack": both(
        put("transitions", 0, "prob", 0.5 + 1e-10), add_transition("cocoa90", "cocoa70", 0.5)
    ),
    "zero-prob": add_transition("cocoa70", "cocoa90", 0.0),
    "unicode-id": put("products", 2, "id", "kakao 70 % ☕"),
}


@pytest.mark.parametrize("case", list(VALID), ids=list(VALID))
def test_valid_variants_load_and_round_trip(case: str, tmp_path: Path):
    d = sparse_dict()
    if case == "unicode-id":
        d["transitions"][1]["to"] = "kakao 70 % ☕"
    VALID[case](d)
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    inst = load_instance(path)
    assert inst.n == 3 and inst.source == str(path)
    again = tmp_path / "again.json"
    save_instance(inst, again)
    assert_same_instance(load_instance(again), inst)


def test_chocolate_values(chocolate: Instance):
    assert chocolate.ids == ("cocoa90", "cocoa80", "cocoa70")
    assert chocolate.name == "chocolate"
    assert chocolate.customers_mean == 100 and chocolate.customers_distribution == "fixed"
    np.testing.assert_array_equal(chocolate.price, [10.0, 8.0, 6.0])
    np.testing.assert_array_equal(chocolate.cost, [5.0, 3.0, 4.0])
    np.testing.assert_array_equal(chocolate.salvage, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(chocolate.fixed_cost, [0.0, 0.0, 20.0])
    np.testing.assert_array_equal(chocolate.arrival, [0.45, 0.25, 0.15])
    np.testing.assert_array_equal(chocolate.transitions.toarray(), DENSE)
    np.testing.assert_allclose(chocolate.exit_prob, [0.4, 0.7, 1.0])
    assert chocolate.max_products == 2 and chocolate.budget == 400.0


def test_name_defaults_to_file_stem(tmp_path: Path):
    d = sparse_dict()
    del d["name"]
    path = tmp_path / "my_shop.json"
    path.write_text(json.dumps(d))
    assert load_instance(path).name == "my_shop"
    assert instance_from_dict(d).name == ""


def test_validate_file_returns_the_instance(chocolate_path: Path):
    assert validate_file(chocolate_path).ids == ("cocoa90", "cocoa80", "cocoa70")


def test_loading_does_not_modify_or_alias_the_input():
    d = sparse_dict()
    d["metadata"] = {"tags": ["a"]}
    before = copy.deepcopy(d)
    inst = instance_from_dict(d)
    assert d == before
    d["metadata"]["tags"].append("b")
    assert inst.metadata == {"tags": ["a"]}


# ------------------------------------------------------------------ the trap rule vs an oracle
def _trapped_by_closure(rho: np.ndarray) -> np.ndarray:
    """Products that cannot reach a product with exit probability > 1e-9, by transitive closure
    of the adjacency matrix (repeated boolean squaring): independent of the loader's BFS."""
    n = rho.shape[0]
    reach = (rho > 0) | np.eye(n, dtype=bool)
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
    exits = rho.sum(axis=1) < 1 - 1e-9
    return ~(reach & exits[None, :]).any(axis=1)


def test_trap_rule_matches_transitive_closure_on_random_chains():
    rng = np.random.default_rng(2024)
    rejected = accepted = 0
    for _ in range(300):
        n = int(rng.integers(1, 8))
        mask = (rng.random((n, n)) < rng.uniform(0.2, 0.8)) & ~np.eye(n, dtype=bool)
        rho = np.where(mask, rng.random((n, n)), 0.0)
        sums = rho.sum(axis=1, keepdims=True)
        # Rows either sum to exactly 1 (no exit) or keep a random exit.
        closed = rng.random((n, 1)) < 0.85
        scale = np.where(closed, 1.0, rng.uniform(0.2, 0.99, (n, 1)))
        rho = np.divide(rho * scale, sums, out=np.zeros_like(rho), where=sums > 0)
        d = {
            "customers": {"mean": 10},
            "products": [
                {"id": f"p{i}", "price": 2.0, "cost": 1.0, "arrival": 1.0 / n} for i in range(n)
            ],
            "transition_matrix": rho.tolist(),
        }
        trapped = _trapped_by_closure(rho)
        if trapped.any():
            with pytest.raises(InstanceError) as info:
                instance_from_dict(d)
            named = info.value.reason.split("customers at ")[1].split(" ")[0]
            assert trapped[int(named[1:])]
            assert named == f"p{int(np.flatnonzero(trapped)[0])}"
            rejected += 1
        else:
            instance_from_dict(d)
            accepted += 1
    assert rejected > 30 and accepted > 30  # both outcomes exercised


# ------------------------------------------------------------------ round trips
def assert_same_instance(a: Instance, b: Instance) -> None:
    assert a.ids == b.ids
    for name in ("price", "cost", "arrival", "salvage", "fixed_cost"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.transitions != b.transitions).nnz == 0
    assert a.transitions.shape == b.transitions.shape
    assert a.customers_mean == b.customers_mean
    assert a.customers_distribution == b.customers_distribution
    assert (a.max_products, a.budget) == (b.max_products, b.budget)
    assert a.name == b.name and a.metadata == b.metadata


def random_instance(n: int, seed: int, k: int = 4) -> Instance:
    """A random valid instance with awkward floats (full-precision, tiny, integral)."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(1, 50, n)
    price[0] = 7.0
    cost = price * rng.uniform(0, 1, n)
    salvage = np.where(rng.random(n) < 0.3, cost * rng.random(n), 0.0)
    fixed = np.where(rng.random(n) < 0.3, rng.uniform(0, 100, n), 0.0)
    arrival = rng.dirichlet(np.ones(n)) * rng.uniform(0.5, 1.0)
    arrival[-1] = 1e-300
    rows = np.repeat(np.arange(n), k)
    cols = (rows + rng.integers(1, n, rows.size)) % n
    pair = np.unique(rows * n + cols)
    rows, cols = pair // n, pair % n
    prob = rng.uniform(0.01, 1.0, rows.size)
    prob = prob / np.bincount(rows, prob, n)[rows] * 0.9
    return Instance(
        ids=tuple(f"sku-{i}" for i in rng.permutation(n)),
        price=price,
        cost=cost,
        arrival=arrival,
        transitions=sp.csr_array((prob, (rows, cols)), shape=(n, n)),
        customers_mean=float(rng.uniform(1, 1000)),
        customers_distribution="poisson",
        salvage=salvage,
        fixed_cost=fixed,
        budget=1234.5,
        name="random",
        metadata={"seed": seed, "nested": {"list": [1, 2.5, None, True, "x"]}},
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_save_then_load_is_exact(tmp_path: Path, seed: int):
    inst = random_instance(200, seed)
    path = tmp_path / "rt.json"
    save_instance(inst, path)
    back = load_instance(path)
    assert_same_instance(back, inst)
    assert back.source == str(path)
    # Saving again gives the same bytes: the format is deterministic.
    path2 = tmp_path / "rt2.json"
    save_instance(back, path2)
    assert path.read_bytes() == path2.read_bytes()


def test_instance_to_dict_leaves_out_defaults(tiny3: Instance, chocolate: Instance):
    d = instance_to_dict(tiny3.replace(salvage=None, fixed_cost=None))
    assert d["format"] == FORMAT
    assert all(set(p) == {"id", "price", "cost", "arrival"} for p in d["products"])
    assert "constraints" not in d and "metadata" not in d and "transition_matrix" not in d
    assert d["transitions"] == [
        {"from": "a", "to": "b", "prob": 0.5},
        {"from": "b", "to": "c", "prob": 0.4},
        {"from": "c", "to": "a", "prob": 0.3},
    ]
    # The shipped file is exactly what the saver writes for it (apart from the source path).
    assert instance_to_dict(chocolate) == json.loads(CHOCOLATE.read_text())


def test_dense_matrix_gives_the_same_instance_as_the_sparse_list():
    inst = random_instance(30, 7)
    d = instance_to_dict(inst)
    dense = copy.deepcopy(d)
    del dense["transitions"]
    dense["transition_matrix"] = inst.transitions.toarray().tolist()
    assert_same_instance(instance_from_dict(dense), instance_from_dict(d))
    assert_same_instance(instance_from_dict(dense), inst)


def test_save_refuses_an_invalid_instance_and_keeps_the_old_file(tmp_path: Path, tiny3: Instance):
    path = tmp_path / "keep.json"
    save_instance(tiny3, path)
    before = path.read_bytes()
    bad = tiny3.replace(price=np.array([5.0, -4.0, 3.0]))
    with pytest.raises(InstanceError, match=r"keep\.json: products\[1\]\.price: must be > 0"):
        save_instance(bad, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.json"]


def test_write_json_atomic_leaves_no_partial_file(tmp_path: Path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": [1, 2]})
    mode = path.stat().st_mode
    with pytest.raises(ValueError):
        write_json_atomic(path, {"a": float("nan")})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    assert os.listdir(tmp_path) == ["out.json"]
    write_json_atomic(path, {"b": 1})
    assert json.loads(path.read_text()) == {"b": 1} and path.stat().st_mode == mode


def test_dumps_keeps_key_order_and_one_product_per_line(chocolate: Instance):
    text = dumps(instance_to_dict(chocolate))
    assert text.endswith("}\n")
    lines = text.splitlines()
    assert lines[1].strip().startswith('"format"')
    assert sum(line.strip().startswith('{"id": ') for line in lines) == 3
    assert sum(line.strip().startswith('{"from": ') for line in lines) == 2
    assert json.loads(text) == instance_to_dict(chocolate)
