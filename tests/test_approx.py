"""The Blanchet–Gallego–Goyal chain: exact for MNL (equals `mnl_to_mc`), its values against a
direct computation from P(j | S), and its approximation error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assortopt.catalogue import Catalogue
from assortopt.choice.approx import approximation_error, bgg_chain, to_markov_chain
from assortopt.choice.mc import choice_probabilities
from assortopt.choice.mnl import MNLModel, mnl_to_mc
from assortopt.choice.nested import NestedLogit
from assortopt.choice.ranked_lists import RankedLists
from assortopt.cli import main
from assortopt.exceptions import OptionError
from assortopt.instance import instance_from_dict, instance_to_dict, load_instance
from tests.test_choice_models import nested_formula


def _catalogue(n: int) -> Catalogue:
    ids = tuple(f"p{i}" for i in range(n))
    z = np.zeros(n)
    return Catalogue(ids, np.full(n, 10.0), np.full(n, 4.0), z, z, (None,) * n, (None,) * n)


def test_chain_of_mnl_is_mnl_to_mc():
    rng = np.random.default_rng(1)
    v = rng.normal(0.0, 1.5, 30)
    cat = _catalogue(30)
    inst = to_markov_chain(MNLModel(cat.ids, v), cat, 50)
    lam, rho = mnl_to_mc(np.exp(v))
    np.testing.assert_allclose(inst.arrival, lam, rtol=1e-12)
    np.testing.assert_allclose(inst.transitions.toarray(), rho.toarray(), rtol=1e-9, atol=1e-15)
    err = approximation_error(MNLModel(cat.ids, v), inst, n_sets=30, seed=2)
    assert err["max_abs"] < 1e-12


def test_bgg_values_against_direct_computation():
    v, nest, tau = [0.3, -0.2, 0.5, 0.1, -1.0], [0, 0, 0, 1, 1], [0.2, 0.6]
    nl = NestedLogit(tuple(f"p{i}" for i in range(5)), v, nest, tau)
    lam, rho = bgg_chain(nl)
    full = nested_formula(v, nest, tau, np.ones(5, bool))
    for i in range(5):
        s = np.ones(5, bool)
        s[i] = False
        loo = nested_formula(v, nest, tau, s)
        assert lam[i] == pytest.approx(full[i], rel=1e-12)
        for j in range(5):
            want = 0.0 if j == i else (loo[j] - full[j]) / full[i]
            assert rho[i, j] == pytest.approx(want, rel=1e-9, abs=1e-15)
    # the chain reproduces the model on the N + 1 sets it was built from, not on all sets
    inst = to_markov_chain(nl, _catalogue(5), 10)
    for i in range(-1, 5):
        s = np.ones(5, bool)
        if i >= 0:
            s[i] = False
        np.testing.assert_allclose(
            choice_probabilities(inst, s), nested_formula(v, nest, tau, s)[:5], atol=1e-12
        )
    assert approximation_error(nl, inst, n_sets=40, seed=0)["max_abs"] > 1e-3


def test_products_nobody_buys_first_and_traps():
    cat = _catalogue(3)
    rl = RankedLists(cat.ids, [0.5, 0.3], [[0, 1], [2]])  # p1 is only a second choice
    inst = to_markov_chain(rl, cat, 10)
    assert inst.arrival[1] == 0 and inst.transitions[[1], :].nnz == 0
    assert inst.transitions[0, 1] == pytest.approx(1.0)
    instance_from_dict(instance_to_dict(inst))  # passes every rule of the instance file
    trap = RankedLists(cat.ids, [0.5, 0.5], [[0, 1, 2], [1, 0, 2]])
    with pytest.raises(OptionError, match="never leave"):
        to_markov_chain(trap, cat, 10)


def test_approx_cli_writes_a_valid_instance(tmp_path, capsys):
    model = tmp_path / "nl.json"
    model.write_text(
        json.dumps(
            {
                "format": "assortopt-choice/1",
                "model": "nested-logit",
                "utility": {"a": 0.4, "b": -0.1, "c": 0.2},
                "nests": [{"name": "x", "dissimilarity": 0.4, "products": ["a", "b", "c"]}],
            }
        )
    )
    (tmp_path / "cat.csv").write_text("id,price,cost,salvage\nc,6,2,1\na,10,4,\nb,8,3,\n")
    out = tmp_path / "inst.json"
    rc = main(
        [
            "approx",
            str(model),
            "--catalogue",
            str(tmp_path / "cat.csv"),
            "-t",
            "25",
            "--distribution",
            "poisson",
            "-o",
            str(out),
            "--error-sets",
            "20",
        ]
    )
    assert rc == 0
    inst = load_instance(out)
    assert inst.ids == ("c", "a", "b") and inst.customers_distribution == "poisson"
    assert inst.salvage[0] == 1.0
    nl = NestedLogit(("c", "a", "b"), [0.2, 0.4, -0.1], [0, 0, 0], [0.4])
    full = nl.probabilities(np.ones(3, bool))[0]
    np.testing.assert_allclose(inst.arrival, full[:3], rtol=1e-12)
    assert set(inst.metadata["approximation_error"]) >= {"max_abs", "mean_abs", "n_sets"}
    assert "random sets" in capsys.readouterr().err
