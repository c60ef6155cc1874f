"""The refined chain (EM fitted to a model's P(j | S) on random offer sets) against the BGG chain:
both are the MNL chain for an MNL (closed form `mnl_to_mc`); on a latent-class truth the refined
chain is no worse on the sets it was fitted to, measured by an independent computation of the
chain's choice probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assortopt.choice.approx import approximation_error, bgg_chain, random_offer_sets
from assortopt.choice.latent_class import LatentClassMNL
from assortopt.choice.mc import chain_probabilities
from assortopt.choice.mnl import MNLModel, mnl_to_mc
from assortopt.cli import main
from assortopt.exceptions import OptionError
from assortopt.fit.refine import refined_chain, to_markov_chain
from assortopt.instance import load_instance
from tests.test_approx import _catalogue


def _lc(n: int) -> LatentClassMNL:
    rng = np.random.default_rng(3)
    ids = tuple(f"p{i}" for i in range(n))
    return LatentClassMNL(ids, [0.35, 0.65], [rng.normal(0, 2, n), rng.normal(0, 2, n)])


def _training_sets(n: int, n_sets: int, seed: int) -> np.ndarray:
    """The refined chain's training sets: all, all but one, then the random ones."""
    return np.vstack(
        [np.ones((1, n), bool), ~np.eye(n, dtype=bool), random_offer_sets(n, n_sets, seed)]
    )


def _cross_entropy(model, lam, rho, sets) -> float:
    """Σ_S Σ_j P(j | S) log Q(j | S), Q from `chain_probabilities` (not the EM's E-step)."""
    truth = model.probabilities(sets)
    dense = rho.toarray()
    total = 0.0
    for b, s in enumerate(sets):
        p, _, p0 = chain_probabilities(lam, dense, s)
        t = np.append(truth[b, :-1][s], truth[b, -1])
        q = np.append(p[s], p0)
        total += float(np.sum(t[t > 0] * np.log(q[t > 0])))
    return total


@pytest.mark.parametrize("method", ["bgg", "refined"])
def test_both_chains_of_an_mnl_are_mnl_to_mc(method):
    rng = np.random.default_rng(8)
    v = rng.normal(0.0, 1.2, 9)
    cat = _catalogue(9)
    model = MNLModel(cat.ids, v)
    inst = to_markov_chain(model, cat, 40, method=method, n_sets=60, seed=1)
    lam, rho = mnl_to_mc(np.exp(v))
    np.testing.assert_allclose(inst.arrival, lam, rtol=1e-9)
    np.testing.assert_allclose(inst.transitions.toarray(), rho.toarray(), rtol=1e-8, atol=1e-12)
    assert approximation_error(model, inst, n_sets=40, seed=9)["max_abs"] < 1e-9
    assert inst.metadata["bgg"] is (method == "bgg")


def test_refined_chain_fits_a_latent_class_truth_no_worse_than_bgg():
    n, n_sets, seed = 8, 120, 4
    model = _lc(n)
    cat = _catalogue(n)
    bgg = to_markov_chain(model, cat, 40, method="bgg")
    ref = to_markov_chain(model, cat, 40, method="refined", n_sets=n_sets, seed=seed)
    # on the random training sets (approximation_error draws the same sets from the same seed)
    e_bgg = approximation_error(model, bgg, n_sets=n_sets, seed=seed)
    e_ref = approximation_error(model, ref, n_sets=n_sets, seed=seed)
    assert e_ref["mean_abs"] <= e_bgg["mean_abs"]
    assert e_ref["max_abs"] <= e_bgg["max_abs"]
    # the objective EM increases, recomputed independently on all training sets
    sets = _training_sets(n, n_sets, seed)
    ce_bgg = _cross_entropy(model, *bgg_chain(model), sets)
    ce_ref = _cross_entropy(model, ref.arrival, ref.transitions, sets)
    assert ce_ref >= ce_bgg - 1e-9
    assert ce_ref == pytest.approx(ref.metadata["refined"]["objective"], rel=1e-6)
    assert ref.metadata["refined"]["training_sets"] == sets.shape[0]


def test_refined_chain_is_deterministic_and_checks_options():
    model = _lc(5)
    a = refined_chain(model, n_sets=30, seed=2)
    b = refined_chain(model, n_sets=30, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1].toarray(), b[1].toarray())
    with pytest.raises(OptionError):
        refined_chain(model, n_sets=-1)
    with pytest.raises(OptionError):
        refined_chain(model, support="sideways")
    with pytest.raises(OptionError):
        to_markov_chain(model, _catalogue(5), 10, method="exact")


def test_approx_cli_method_refined(tmp_path):
    model = _lc(4)
    (tmp_path / "lc.json").write_text(json.dumps(model.to_dict()))
    (tmp_path / "cat.csv").write_text("id,price,cost\n" + "".join(f"{p},9,3\n" for p in model.ids))
    out = tmp_path / "inst.json"
    args = ["approx", str(tmp_path / "lc.json"), "--catalogue", str(tmp_path / "cat.csv")]
    rc = main([*args, "-t", "20", "-o", str(out), "--method", "refined", "--refine-sets", "40"])
    assert rc == 0
    inst = load_instance(out)
    assert inst.metadata["bgg"] is False and inst.metadata["refined"]["training_sets"] == 45
    want = refined_chain(model, n_sets=40, seed=1)  # the CLI trains on seed + 1
    np.testing.assert_allclose(inst.arrival, want[0], rtol=1e-12)
