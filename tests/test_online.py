"""The multi-step online choice model: exact probabilities equal a brute-force enumeration; the
calibrated Markov chain reproduces P(·|N) and P(·|N∖{i}) exactly and its error elsewhere is
measured; an MNL in disguise calibrates to the MNL chain; lists sampled by the ground-truth
sampler buy with the model's probabilities; files round-trip."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from assortopt.choice.mc import choice_probabilities as mc_probs
from assortopt.choice.mnl import mnl_to_mc
from assortopt.choice.online import OnlineChoiceModel, calibration_error
from assortopt.choice.online_io import (
    load_ground_truth,
    load_online_model,
    online_model_from_dict,
    online_model_to_dict,
    save_online_model,
    write_generated,
)
from assortopt.exceptions import InstanceError
from assortopt.generators import generate_online
from assortopt.instance import load_instance


def tiny_model() -> OnlineChoiceModel:
    """5 products, 3 queries with overlapping lists of lengths 3, 2, 4; DCG examination."""
    lists = [[0, 2, 1], [3, 0], [4, 1, 3, 2]]
    offsets = np.cumsum([0] + [len(x) for x in lists])
    e = 1.0 / np.log2(1.0 + np.arange(1, 5))
    return OnlineChoiceModel(
        ids=("a", "b", "c", "d", "e"),
        offsets=offsets,
        items=np.concatenate(lists),
        w=np.array([0.5, 0.3, 0.2]),
        e=e,
        v=np.array([2.0, 1.0, 0.5, 3.0, 0.2]),
        v0=1.2,
    )


def brute_force(model: OnlineChoiceModel, offered: np.ndarray) -> np.ndarray:
    """P(j | A) = Σ_q w_q Σ_C P(C|q) v_j 1[j∈C∩A] / (v0 + Σ_{C∩A} v), by itertools."""
    p = np.zeros(model.n)
    for q in range(model.n_queries):
        lst = model.items[model.offsets[q] : model.offsets[q + 1]]
        for pattern in itertools.product([0, 1], repeat=lst.size):
            x = np.array(pattern, bool)
            prob = np.prod(np.where(x, model.e[: lst.size], 1 - model.e[: lst.size]))
            c = lst[x & offered[lst]]
            denom = model.v0 + model.v[c].sum()
            p[c] += model.w[q] * prob * model.v[c] / denom
    return p


def test_exact_probabilities_match_brute_force() -> None:
    m = tiny_model()
    rng = np.random.default_rng(1)
    for _ in range(10):
        offered = rng.random(m.n) < 0.6
        np.testing.assert_allclose(
            m.choice_probabilities(offered), brute_force(m, offered), atol=1e-14
        )
    assert m.exact_feasible() and m.n_subsets == 8  # e_1 = 1, three fractional positions


def test_monte_carlo_mode_is_close_to_exact() -> None:
    m = tiny_model()
    offered = np.array([True, False, True, True, True])
    exact = m.choice_probabilities(offered)
    mc = m.choice_probabilities(offered, mode="mc", samples=200_000, seed=3)
    np.testing.assert_allclose(mc, exact, atol=5e-3)
    again = m.choice_probabilities(offered, mode="mc", samples=200_000, seed=3)
    np.testing.assert_array_equal(mc, again)


def test_calibrated_chain_reproduces_the_calibration_sets_exactly() -> None:
    inst, model = generate_online(60, 200, seed=5)
    info = inst.metadata["calibration"]
    assert info["mode"] == "exact"
    full = np.ones(inst.n, bool)
    np.testing.assert_allclose(mc_probs(inst, full), model.choice_probabilities(full), atol=1e-12)
    assert 1 - model.choice_probabilities(full).sum() == pytest.approx(0.3, abs=1e-9)
    for i in range(inst.n):
        mask = full.copy()
        mask[i] = False
        np.testing.assert_allclose(
            mc_probs(inst, mask), model.choice_probabilities(mask), atol=1e-12
        )


def test_calibration_error_on_other_sets_is_reported_and_beats_independent_demand() -> None:
    inst, model = generate_online(60, 200, seed=5)
    err = calibration_error(model, inst, n_sets=30, seed=2)
    print("\ncalibration error of the MC chain on 30 random offer sets:", err)
    # baseline: the same first choices with no substitution at all (everyone leaves)
    naive = inst.replace(transitions=sp.csr_array((inst.n, inst.n)))
    base = calibration_error(model, naive, n_sets=30, seed=2)
    print("independent-demand baseline:", base)
    for key in ("max_abs", "mean_abs", "max_rel", "mean_rel", "max_tv"):
        assert np.isfinite(err[key]) and err[key] >= 0
    # The chain is exact on N and N∖{i}; on sets with many products missing it is an
    # approximation. It must capture most of the substitution the baseline ignores.
    assert err["max_tv"] < 0.5 * base["max_tv"]
    assert err["mean_abs"] < 0.5 * base["mean_abs"]
    assert err["max_abs"] < 0.1


def test_single_query_full_examination_is_mnl() -> None:
    u = np.array([0.5, 2.0, 1.0, 0.1])
    m = OnlineChoiceModel(("a", "b", "c", "d"), [0, 4], [2, 0, 3, 1], [1.0], np.ones(4), u, 1.0)
    arrival, rho = m.calibrate()
    a_mnl, rho_mnl = mnl_to_mc(u)
    np.testing.assert_allclose(arrival, a_mnl, atol=1e-14)
    np.testing.assert_allclose(rho.toarray(), rho_mnl.toarray(), atol=1e-14)


def test_monte_carlo_calibration_is_nonnegative_and_close() -> None:
    m = tiny_model()
    a_ex, r_ex = m.calibrate(mode="exact")
    info: dict = {}
    a_mc, r_mc = m.calibrate(mode="mc", samples=200_000, seed=4, info=info)
    assert info["mode"] == "mc" and info["samples"] == 200_000
    assert r_mc.data.min() >= 0 and np.asarray(r_mc.sum(axis=1)).max() <= 1
    np.testing.assert_allclose(a_mc, a_ex, atol=5e-3)
    np.testing.assert_allclose(r_mc.toarray(), r_ex.toarray(), atol=0.03)


def test_sampled_lists_buy_with_the_model_probabilities() -> None:
    m = tiny_model()
    offered = np.array([True, True, False, True, False])
    n_cust = 200_000
    stream = m.sample_lists([n_cust], seed=7)
    assert stream.n_customers == n_cust and stream.n_products == 5
    # infinite stock: each customer buys the first offered product of her list
    cust = np.repeat(np.arange(n_cust), stream.list_lengths)
    hit = offered[stream.items]
    first = np.full(n_cust, -1)
    idx = np.flatnonzero(hit)
    first_idx = idx[np.unique(cust[idx], return_index=True)[1]]
    first[cust[first_idx]] = stream.items[first_idx]
    freq = np.bincount(first[first >= 0], minlength=5) / n_cust
    p = m.choice_probabilities(offered)
    sd = np.sqrt(p * (1 - p) / n_cust)
    assert np.all(np.abs(freq - p) <= 4.5 * sd + 1e-12)
    # lists hold distinct products that appear together in one query's results
    for c in range(200):
        lst = stream.customer(c)
        assert len(set(lst.tolist())) == lst.size


def test_sampler_is_reproducible_and_independent_of_scenario_split() -> None:
    m = tiny_model()
    one = m.sample_lists([70_000], seed=9)
    two = m.sample_lists([30_000, 40_000], seed=9)
    np.testing.assert_array_equal(one.items, two.items)
    np.testing.assert_array_equal(one.offsets, two.offsets)
    assert two.n_scenarios == 2 and list(two.customers_per_scenario) == [30_000, 40_000]
    other = m.sample_lists([70_000], seed=10)
    assert not np.array_equal(one.items[:1000], other.items[:1000])


def test_model_file_round_trip(tmp_path: Path) -> None:
    m = tiny_model()
    path = tmp_path / "m.online.json"
    save_online_model(m, path)
    back = load_online_model(path)
    assert back.ids == m.ids and back.v0 == m.v0
    np.testing.assert_array_equal(back.items, m.items)
    np.testing.assert_array_equal(back.w, m.w)
    offered = np.array([True, False, True, True, False])
    np.testing.assert_array_equal(
        back.choice_probabilities(offered), m.choice_probabilities(offered)
    )
    d = online_model_to_dict(m)
    d["queries"][1]["results"] = ["a", "zz"]
    with pytest.raises(InstanceError, match=r"x.json: queries\[1\].results\[1\]: unknown"):
        online_model_from_dict(d, source="x.json")
    d = online_model_to_dict(m)
    d["products"][2]["weight"] = -1
    with pytest.raises(InstanceError, match=r"products\[2\].weight"):
        online_model_from_dict(d)


def test_write_generated_names_the_ground_truth(tmp_path: Path) -> None:
    inst, model = generate_online(30, 50, seed=1, error_sets=0)
    path = tmp_path / "shop.json"
    write_generated(inst, path, ground_truth=model)
    loaded = load_instance(path)
    assert loaded.metadata["ground_truth"] == "shop.online.json"
    truth = load_ground_truth(loaded)
    assert truth is not None and truth.ids == loaded.ids
    full = np.ones(loaded.n, bool)
    np.testing.assert_allclose(truth.choice_probabilities(full), loaded.arrival, atol=1e-12)
    # aligned_to renumbers consistently
    rev = truth.aligned_to(loaded.ids[::-1])
    np.testing.assert_allclose(rev.choice_probabilities(full)[::-1], loaded.arrival, atol=1e-12)


def test_ground_truth_drives_the_simulator() -> None:
    from assortopt.sampling import ListSampler
    from assortopt.simulation import simulate

    inst, model = generate_online(40, 100, seed=8, error_sets=0)
    assert isinstance(model, ListSampler)
    stock = np.full(inst.n, 100)  # never runs out: sales per customer = P(j | all) = λ_j
    reps = 400
    ev = simulate(inst, stock, reps=reps, seed=1, sampler=model)
    per_customer = np.asarray(ev.sales) / 100
    sd = np.sqrt(inst.arrival * (1 - inst.arrival) / (100 * reps))
    assert np.all(np.abs(per_customer - inst.arrival) <= 4.5 * sd + 1e-12)
