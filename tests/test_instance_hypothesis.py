"""Property test: a mutated instance file either loads into an instance that obeys every rule of
the instance format (README.md) or is rejected with a one-line `InstanceError` naming the file;
nothing else escapes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assortopt.exceptions import InstanceError
from assortopt.instance import Instance, instance_from_dict, instance_to_dict, load_instance

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

unit = st.floats(0.0, 1.0)


@st.composite
def valid_instances(draw: st.DrawFn) -> dict[str, Any]:
    """A valid instance dict: 1-5 products, sparse or dense chain with an exit from every row."""
    n = draw(st.integers(1, 5))
    # ids that differ only by surrounding white space (or are only white space) are refused
    text = st.text(min_size=1, max_size=3).filter(lambda t: t.strip() != "")
    ids = draw(st.lists(text, min_size=n, max_size=n, unique_by=str.strip))
    products = []
    weights = [draw(unit) for _ in range(n)]
    scale = max(1.0, sum(weights))
    for i, pid in enumerate(ids):
        price = draw(st.floats(0.01, 1000.0))
        cost = price * draw(st.floats(0.0, 1.5))
        p: dict[str, Any] = {"id": pid, "price": price, "cost": cost, "arrival": weights[i] / scale}
        if draw(st.booleans()):
            p["salvage"] = min(cost, price) * draw(st.floats(0.0, 0.99))
        if draw(st.booleans()):
            p["fixed_cost"] = draw(st.floats(0.0, 500.0))
        products.append(p)
    rho = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j and draw(st.booleans()):
                rho[i, j] = draw(st.floats(0.01, 1.0))
        total = rho[i].sum()
        if total > 0:
            rho[i] *= draw(st.floats(0.0, 0.95)) / total
    d: dict[str, Any] = {}
    if draw(st.booleans()):
        d["format"] = "assortopt-instance/1"
    if draw(st.booleans()):
        d["name"] = draw(st.text(max_size=5))
    if draw(st.booleans()):
        d["customers"] = {"mean": draw(st.integers(1, 500)), "distribution": "fixed"}
    else:
        d["customers"] = {"mean": draw(st.floats(0.1, 500.0)), "distribution": "poisson"}
    d["products"] = products
    if draw(st.booleans()):
        d["transition_matrix"] = rho.tolist()
    else:
        d["transitions"] = [
            {"from": ids[i], "to": ids[j], "prob": float(rho[i, j])} for i, j in np.argwhere(rho)
        ]
    if draw(st.booleans()):
        d["constraints"] = {"max_products": draw(st.integers(0, n)), "budget": draw(unit) * 1e3}
    if draw(st.booleans()):
        d["metadata"] = {"note": "x", "k": [1, 2]}
    return d


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(d: Any, path: tuple) -> Any:
    for key in path:
        d = d[key]
    return d


BAD_VALUES = st.one_of(
    st.sampled_from(
        [None, True, False, "", "x", "1.5", [], {}, [1], {"a": 1}, 0, -1, 0.0, -0.0, 1, 2.5]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.sampled_from([10**400, -(10**400), 1e308, 5e-324, 1 + 1e-12, 1 - 1e-12]),
    st.text(max_size=3),
)
UNKNOWN_KEYS = st.sampled_from(["extra", "Price", "probability", "weight", "", "id2", "mean "])


@st.composite
def mutated_instances(draw: st.DrawFn) -> dict[str, Any]:
    d = copy.deepcopy(draw(valid_instances()))
    ids = [p["id"] for p in d["products"]]
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(d)
        path = draw(st.sampled_from(paths))
        kind = draw(
            st.sampled_from(
                ["replace", "delete", "unknown-key", "duplicate", "scale", "wrap", "trap", "id"]
            )
        )
        if kind == "trap" and len(ids) >= 2 and len(set(ids)) == len(ids):
            a, b = draw(st.permutations(ids))[:2]
            d.pop("transition_matrix", None)
            d["transitions"] = [
                {"from": a, "to": b, "prob": 1.0},
                {"from": b, "to": a, "prob": draw(st.sampled_from([1.0, 0.5, 1 - 1e-12]))},
            ]
            continue
        if not path:
            if kind == "unknown-key" and isinstance(d, dict):
                d[draw(UNKNOWN_KEYS)] = 1
            continue
        parent, key = _get(d, path[:-1]), path[-1]
        value = parent[key]
        if kind == "replace":
            parent[key] = draw(BAD_VALUES)
        elif kind == "id":
            parent[key] = draw(st.sampled_from(ids))
        elif kind == "delete":
            del parent[key]
        elif kind == "unknown-key" and isinstance(value, dict):
            value[draw(UNKNOWN_KEYS)] = draw(BAD_VALUES)
        elif kind == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(draw(st.sampled_from(value))))
        elif kind == "scale" and isinstance(value, int | float) and not isinstance(value, bool):
            parent[key] = value * draw(st.sampled_from([-1, 2, 10, 1e300, 1e-300]))
        elif kind == "wrap":
            parent[key] = draw(st.sampled_from([[value], {"value": value}]))
    return d


def _can_leave(rho: np.ndarray) -> np.ndarray:
    """Products that reach a row with exit probability > 1e-9 (boolean transitive closure)."""
    n = rho.shape[0]
    reach = (rho > 0) | np.eye(n, dtype=bool)
    for _ in range(n):
        reach = reach | ((reach.astype(np.int64) @ reach.astype(np.int64)) > 0)
    return (reach & (rho.sum(axis=1) < 1 - 1e-9)[None, :]).any(axis=1)


def _assert_obeys_the_contract(inst: Instance) -> None:
    tol = 1e-9
    arrays = [inst.price, inst.cost, inst.salvage, inst.fixed_cost, inst.arrival]
    assert all(np.all(np.isfinite(a)) and a.shape == (inst.n,) for a in arrays)
    assert len(set(inst.ids)) == inst.n and all(isinstance(i, str) and i for i in inst.ids)
    assert np.all(inst.price > 0) and np.all(inst.cost >= 0) and np.all(inst.fixed_cost >= 0)
    assert np.all(inst.salvage >= 0) and np.all(inst.salvage < inst.price)
    assert np.all(inst.salvage <= inst.cost)
    assert np.all(inst.arrival >= 0) and inst.arrival.sum() <= 1 + tol
    rho = inst.transitions.toarray()
    assert np.all(np.isfinite(rho)) and np.all(rho >= 0) and np.all(np.diagonal(rho) == 0)
    assert np.all(rho.sum(axis=1) <= 1 + tol)
    assert np.all(_can_leave(rho))
    assert inst.customers_mean > 0 and inst.customers_distribution in ("fixed", "poisson")
    if inst.customers_distribution == "fixed":
        assert isinstance(inst.customers_mean, int)
    assert inst.max_products is None or (
        isinstance(inst.max_products, int) and inst.max_products >= 0
    )
    assert inst.budget is None or (np.isfinite(inst.budget) and inst.budget >= 0)


@SETTINGS
@given(d=valid_instances())
def test_generated_instances_are_valid_and_round_trip(d: dict[str, Any]):
    inst = instance_from_dict(d, source="gen.json")
    _assert_obeys_the_contract(inst)
    again = instance_from_dict(json.loads(json.dumps(instance_to_dict(inst))))
    assert again.ids == inst.ids
    assert np.array_equal(again.price, inst.price)
    assert (again.transitions != inst.transitions).nnz == 0


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutants") / "mutant.json"


@SETTINGS
@given(d=mutated_instances())
def test_mutated_files_load_validly_or_raise_only_instance_error(d: dict[str, Any], scratch: Path):
    # Through a real file (NaN/inf become the literals the reader must refuse) ...
    scratch.write_text(json.dumps(d))
    try:
        inst = load_instance(scratch)
    except InstanceError as err:
        message = str(err)
        assert message.startswith(f"{scratch}: ") and "\n" not in message
    else:
        _assert_obeys_the_contract(inst)
    # ... and straight from Python objects (NaN/inf reach the checks as floats).
    try:
        inst = instance_from_dict(d, source="mem.json")
    except InstanceError as err:
        assert str(err).startswith("mem.json: ") and "\n" not in str(err)
    else:
        _assert_obeys_the_contract(inst)
        back = instance_from_dict(json.loads(json.dumps(instance_to_dict(inst))))
        assert back.ids == inst.ids and np.array_equal(back.arrival, inst.arrival)


@SETTINGS
@given(d=valid_instances(), cut=st.integers(0, 10**6), junk=st.binary(max_size=4))
def test_damaged_text_raises_only_instance_error(
    d: dict[str, Any], cut: int, junk: bytes, scratch: Path
):
    raw = json.dumps(d).encode()
    cut %= len(raw) + 1
    scratch.write_bytes(raw[:cut] + junk + raw[cut + len(junk) :])
    try:
        _assert_obeys_the_contract(load_instance(scratch))
    except InstanceError as err:
        assert str(err).startswith(f"{scratch}: ") and "\n" not in str(err)
