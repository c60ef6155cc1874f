"""python_choice_models Markov chain files: the diagonal of ``ros`` is dropped and the row
rescaled (their from_mnl layout gives back the exact MNL chain); import ∘ export is the identity;
bad files are refused naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assortopt.choice.mnl import mnl_to_mc
from assortopt.exceptions import InstanceError
from assortopt.generators import generate
from assortopt.interop import export_pcm, import_pcm


def pcm_from_mnl(u: np.ndarray) -> dict:
    """The layout of python_choice_models' MarkovChainModel built from an MNL (utility of no
    purchase 1): λ_i = u_i/(1+U), and every row, diagonal included, is the first-choice split."""
    total = 1.0 + u.sum()
    first = np.concatenate([[1.0], u]) / total
    ros = np.tile(first, (u.size + 1, 1))
    ros[0] = 0.0
    return {
        "code": "mkv",
        "products": list(range(u.size + 1)),
        "lambdas": first.tolist(),
        "ros": ros.tolist(),
    }


def test_mnl_layout_imports_to_the_mnl_chain(tmp_path: Path) -> None:
    u = np.array([0.7, 1.5, 0.2, 3.0])
    path = tmp_path / "mnl.json"
    path.write_text(json.dumps(pcm_from_mnl(u)))
    inst = import_pcm(path, prices=[10, 8, 6, 4], costs=5.0 * np.ones(4) / 2, customers=20)
    arrival, rho = mnl_to_mc(u)
    np.testing.assert_allclose(inst.arrival, arrival, atol=1e-15)
    np.testing.assert_allclose(inst.transitions.toarray(), rho.toarray(), atol=1e-15)
    assert inst.ids == ("1", "2", "3", "4") and inst.name == "mnl"
    assert inst.transitions.diagonal().sum() == 0


def test_round_trip_of_a_generated_instance() -> None:
    inst = generate("sparse", 25, 40, seed=3)
    d = json.loads(json.dumps(export_pcm(inst)))  # through JSON text
    prices = dict(zip(inst.ids, inst.price.tolist(), strict=True))
    back = import_pcm(d, prices=prices, costs=inst.cost.tolist(), customers=40)
    assert back.ids == inst.ids
    np.testing.assert_allclose(back.arrival, inst.arrival, atol=1e-15)
    np.testing.assert_allclose(back.transitions.toarray(), inst.transitions.toarray(), atol=1e-15)
    np.testing.assert_array_equal(back.price, inst.price)
    again = export_pcm(back)
    np.testing.assert_allclose(np.array(again["ros"]), np.array(d["ros"]), atol=1e-15)
    np.testing.assert_allclose(again["lambdas"], d["lambdas"], atol=1e-15)


def test_prices_from_csv(tmp_path: Path) -> None:
    d = pcm_from_mnl(np.array([1.0, 2.0]))
    csv = tmp_path / "prices.csv"
    csv.write_text("product,price,cost\n2,9.5,4\n1,7,3\n")
    inst = import_pcm(d, price_csv=csv)
    np.testing.assert_array_equal(inst.price, [7.0, 9.5])
    np.testing.assert_array_equal(inst.cost, [3.0, 4.0])
    csv.write_text("id,price,cost\n1,seven,3\n2,9,4\n")
    with pytest.raises(InstanceError, match=r"prices.csv: line 2.price: not a number"):
        import_pcm(d, price_csv=csv)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("ros"), "ros: missing"),
        (lambda d: d["lambdas"].__setitem__(1, 0.9), "lambdas: must sum to 1"),
        (lambda d: d["ros"][2].__setitem__(0, 0.9), r"ros\[2\]: must sum to 1"),
        (lambda d: d["ros"][1].__setitem__(1, "x"), r"ros\[1\]\[1\]: must be a finite number"),
        (lambda d: d.__setitem__("products", [1, 2, 3]), r"products\[0\]: must be 0"),
        (lambda d: d.__setitem__("code", "mnl"), "code: must be 'mkv'"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path: Path, edit, field: str) -> None:
    d = pcm_from_mnl(np.array([1.0, 2.0]))
    edit(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InstanceError, match=rf"bad.json: {field}"):
        import_pcm(path, prices=5, costs=1)


def test_missing_prices_and_invalid_results_are_refused() -> None:
    d = pcm_from_mnl(np.array([1.0, 2.0]))
    with pytest.raises(InstanceError, match="prices and costs are needed"):
        import_pcm(d)
    with pytest.raises(InstanceError, match=r"products\[1\].price: must be > 0"):
        import_pcm(d, prices=[5, -1], costs=0)
    trap = {
        "products": [0, 1, 2],
        "lambdas": [0.2, 0.4, 0.4],
        "ros": [[0, 0, 0], [0, 0, 1], [0, 1, 0]],
    }
    with pytest.raises(InstanceError, match="can never leave"):
        import_pcm(trap, prices=5, costs=1)
