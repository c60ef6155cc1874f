"""The one-pass JSON writer of instances (`instance_json_text`, used by `save_instance` and
`assortopt approx`) writes exactly the text of the general path, ``dumps(instance_to_dict(inst))``,
and the file reads back to the same instance; `approx --output x.npz` writes a columnar file."""

from __future__ import annotations

import json

import numpy as np
import scipy.sparse as sp

from assortopt.cli import main
from assortopt.instance import (
    Instance,
    instance_json_text,
    instance_to_dict,
    load_instance,
    save_instance,
)
from assortopt.jsonio import dumps
from assortopt.npzio import is_npz

ODD_IDS = ['a"b', "naïve ☃", "x\\y", "}, {", "t\tab", "p: [1]"]


def _instance(n: int, density: float, seed: int, odd: bool) -> Instance:
    rng = np.random.default_rng(seed)
    rho = sp.random(n, n, density=density, random_state=seed, format="lil")
    rho.setdiag(0.0)
    rho = sp.csr_array(rho)
    rows = np.asarray(rho.sum(axis=1)).ravel()
    rho = sp.csr_array(sp.diags(1.0 / np.maximum(rows, 1e-12) * 0.8) @ rho)
    ids = [f"p{i}" for i in range(n)]
    if odd:
        ids[: len(ODD_IDS)] = ODD_IDS
    price = rng.uniform(2, 10, n).round(rng.integers(0, 4))
    return Instance(
        ids=tuple(ids),
        price=price,
        cost=price * 0.4,
        salvage=np.where(rng.random(n) < 0.3, price * 0.1, 0.0),
        fixed_cost=np.where(rng.random(n) < 0.3, 1.5, 0.0),
        arrival=rng.dirichlet(np.ones(n)) * 0.9,
        transitions=rho,
        customers_mean=float(rng.integers(10, 1000)) + (0.5 if odd else 0.0),
        customers_distribution="poisson" if odd else "fixed",
        name='n☃ "q"' if odd else "",
        max_products=5 if odd else None,
        metadata={"note": "}, {", "nested": {"k": [1, 2.5, None]}} if odd else {},
        vendor=tuple(f"v{i % 3}" if i % 4 else None for i in range(n)) if odd else None,
    )


def test_same_text_as_the_general_path():
    for seed, (n, density, odd) in enumerate(
        [(60, 0.5, True), (60, 0.5, False), (200, 0.05, True), (8, 0.9, True), (40, 0.0, False)]
    ):
        inst = _instance(n, density, seed, odd)
        text = instance_json_text(inst)
        assert text == dumps(instance_to_dict(inst)), (n, density, odd)
        assert json.loads(text)["transitions"] == instance_to_dict(inst)["transitions"]


def test_saved_file_reads_back(tmp_path):
    inst = _instance(80, 0.3, 7, True)
    for name in ("i.json", "i.npz"):
        save_instance(inst, tmp_path / name)
        back = load_instance(tmp_path / name)
        assert back.ids == inst.ids and back.name == inst.name
        np.testing.assert_array_equal(back.price, inst.price)
        np.testing.assert_array_equal(back.arrival, inst.arrival)
        assert (back.transitions != inst.transitions).nnz == 0
        assert back.metadata == inst.metadata and back.vendor == inst.vendor


def test_approx_writes_npz_and_json_alike(tmp_path):
    model = tmp_path / "nl.json"
    utility = {f"p{i}": 0.1 * (i % 7) - 0.3 for i in range(50)}
    nests = [
        {
            "name": f"n{k}",
            "dissimilarity": 0.3 + 0.2 * k,
            "products": [f"p{i}" for i in range(k, 50, 3)],
        }
        for k in range(3)
    ]
    model.write_text(
        json.dumps(
            {
                "format": "assortopt-choice/1",
                "model": "nested-logit",
                "utility": utility,
                "nests": nests,
            }
        )
    )
    cat = tmp_path / "cat.csv"
    cat.write_text("id,price,cost\n" + "".join(f"p{i},{5 + i % 4},2\n" for i in range(50)))
    args = ["approx", str(model), "--catalogue", str(cat), "-t", "100"]
    assert main([*args, "-o", str(tmp_path / "c.json")]) == 0
    assert main([*args, "-o", str(tmp_path / "c.npz")]) == 0
    assert is_npz(tmp_path / "c.npz") and (tmp_path / "c.npz").read_bytes()[:2] == b"PK"
    a, b = load_instance(tmp_path / "c.json"), load_instance(tmp_path / "c.npz")
    assert a.ids == b.ids and a.transitions.nnz == 50 * 49
    np.testing.assert_array_equal(a.arrival, b.arrival)
    assert (a.transitions != b.transitions).nnz == 0
    assert a.metadata == b.metadata
