"""Choice models under one protocol: P(j | S) against closed forms written out here, and the
samplers' empirical laws against P(j | S) (chi-square, seeded)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from assortopt.chain_model import MarkovChainModel
from assortopt.choice.latent_class import LatentClassMNL
from assortopt.choice.mc import choice_probabilities
from assortopt.choice.mnl import MNLModel, mnl_choice_probabilities
from assortopt.choice.nested import NestedLogit
from assortopt.choice.online import OnlineChoiceModel, examination_probabilities
from assortopt.choice.protocol import ChoiceModel
from assortopt.choice.ranked_lists import RankedLists
from assortopt.choice.rankings import stable_log
from assortopt.streams import Stream
from tests.factories import random_instance

IDS = tuple(f"p{i}" for i in range(5))
V = np.array([0.3, -0.2, 0.5, 0.1, -1.0])


def _models() -> dict[str, object]:
    return {
        "mnl": MNLModel(IDS, V),
        "lc": LatentClassMNL(IDS, [0.3, 0.7], [V, [-1.0, 1.2, 0.0, 0.2, 0.4]]),
        "nl": NestedLogit(IDS, V, [0, 0, 1, 1, 1], [0.3, 0.6]),
        "rl": RankedLists(IDS, [0.3, 0.2, 0.4], [[1, 0, 3], [2], [4, 3, 2, 1, 0]]),
        "mc": MarkovChainModel(random_instance(5, 3).replace(ids=IDS)),
        "online": _online(),
    }


def _online() -> OnlineChoiceModel:
    """Three queries over 5 products, DCG examination (positions 2..4 fractional: exact mode
    enumerates 8 consideration sets)."""
    lists = [[0, 2, 4, 1], [3, 1], [2, 4, 0]]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
    items = np.concatenate(lists)
    e = examination_probabilities("log", 4)
    return OnlineChoiceModel(IDS, offsets, items, [0.5, 0.3, 0.2], e, np.exp(V), 0.8)


def all_sets(n: int) -> np.ndarray:
    """Every non-empty offer set of n products (bool, (2^n − 1)×n)."""
    return np.array([[(c >> i) & 1 for i in range(n)] for c in range(1, 1 << n)], dtype=bool)


def first_available(stream: Stream, offered: np.ndarray) -> np.ndarray:
    """Per customer, the first product of her list in ``offered``, N when none."""
    n = stream.n_products
    mask = offered[stream.items]
    cust = np.repeat(np.arange(stream.n_customers), stream.list_lengths)
    pos = np.arange(len(stream.items))
    best = np.full(stream.n_customers, len(stream.items))
    np.minimum.at(best, cust[mask], pos[mask])
    got = best < len(stream.items)
    out = np.full(stream.n_customers, n)
    out[got] = stream.items[best[got]]
    return out


def chi_square_p(stream: Stream, offered: np.ndarray, p: np.ndarray) -> float:
    """p-value of the counts of choices under ``offered`` against probabilities ``p`` (N+1)."""
    n = stream.n_products
    counts = np.bincount(first_available(stream, offered), minlength=n + 1)
    keep = p > 0
    assert counts[~keep].sum() == 0  # never buys what the model gives probability 0
    expected = p[keep] / p[keep].sum() * counts.sum()
    return float(stats.chisquare(counts[keep], expected).pvalue)


def nested_formula(v, nest, tau, s):
    """Nested logit P(j | S) (j ∈ S, then no purchase) written out term by term."""
    m = max(nest) + 1
    big_v = [
        sum(math.exp(v[i] / tau[k]) for i in range(len(v)) if s[i] and nest[i] == k)
        for k in range(m)
    ]
    den = 1.0 + sum(x ** tau[k] for k, x in enumerate(big_v) if x > 0)
    out = np.zeros(len(v) + 1)
    for j in range(len(v)):
        if s[j]:
            k = nest[j]
            out[j] = big_v[k] ** tau[k] / den * math.exp(v[j] / tau[k]) / big_v[k]
    out[-1] = 1.0 / den
    return out


def test_every_model_speaks_the_protocol():
    for m in _models().values():
        assert isinstance(m, ChoiceModel)
        p = m.probabilities(all_sets(5))
        assert p.shape == (31, 6)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
        assert np.all(p[:, :5][~all_sets(5)] == 0)


def test_closed_forms_on_every_offer_set():
    ms, sets = _models(), all_sets(5)
    u = np.exp(V)
    for s in sets:
        mnl = mnl_choice_probabilities(u, s)
        np.testing.assert_allclose(ms["mnl"].probabilities(s)[0, :5], mnl, rtol=1e-12)
        lc = 0.3 * mnl + 0.7 * mnl_choice_probabilities(np.exp([-1.0, 1.2, 0.0, 0.2, 0.4]), s)
        np.testing.assert_allclose(ms["lc"].probabilities(s)[0, :5], lc, rtol=1e-12)
        nl = nested_formula(V, [0, 0, 1, 1, 1], [0.3, 0.6], s)
        np.testing.assert_allclose(ms["nl"].probabilities(s)[0], nl, rtol=1e-12)
        rl = np.zeros(6)  # brute force: walk each type's list
        for w, lst in zip([0.3, 0.2, 0.4], [[1, 0, 3], [2], [4, 3, 2, 1, 0]], strict=True):
            rl[next((j for j in lst if s[j]), 5)] += w
        rl[5] += 0.1
        np.testing.assert_allclose(ms["rl"].probabilities(s)[0], rl, atol=1e-15)
        mc = choice_probabilities(ms["mc"].inst, s)
        np.testing.assert_allclose(ms["mc"].probabilities(s)[0, :5], mc, rtol=1e-12)


def test_online_probabilities_by_brute_force():
    """The online model's P(j | S): its own choice_probabilities, and a brute-force sum over
    queries and examination patterns of the MNL among examined offered products."""
    m = _online()
    lists = [[0, 2, 4, 1], [3, 1], [2, 4, 0]]
    w, e, u = [0.5, 0.3, 0.2], examination_probabilities("log", 4), np.exp(V)
    for s in all_sets(5):
        p = m.probabilities(s)[0]
        np.testing.assert_allclose(p[:5], m.choice_probabilities(s), rtol=1e-12, atol=1e-15)
        want = np.zeros(6)
        for wq, lst in zip(w, lists, strict=True):
            for pattern in itertools.product([0, 1], repeat=len(lst)):
                pc = wq * math.prod(e[k] if b else 1 - e[k] for k, b in enumerate(pattern))
                seen = [j for j, b in zip(lst, pattern, strict=True) if b and s[j]]
                den = 0.8 + sum(u[j] for j in seen)
                for j in seen:
                    want[j] += pc * u[j] / den
                want[5] += pc * 0.8 / den
        np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-15)


def test_nested_logit_with_unit_dissimilarities_is_mnl():
    nl = NestedLogit(IDS, V, [0, 1, 1, 0, 2], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        nl.probabilities(all_sets(5)), MNLModel(IDS, V).probabilities(all_sets(5)), rtol=1e-12
    )


def test_nested_probabilities_survive_large_utilities():
    nl = NestedLogit(("a", "b"), [300.0, 299.0], [0, 0], [0.1])
    p = nl.probabilities(np.ones(2, bool))[0]
    assert np.all(np.isfinite(p))
    e = np.exp(np.array([300.0, 299.0]) / 0.1 - 3000.0)
    np.testing.assert_allclose(p[:2], e / e.sum(), rtol=1e-12)


def test_positive_stable_laplace_transform():
    """Kanter's formula: E exp(−s S) = exp(−s^α)."""
    rng = np.random.default_rng(11)
    for alpha in (0.3, 0.7):
        s = np.exp([stable_log(rng, alpha) for _ in range(8_000)])
        for t in (0.5, 1.0, 2.0):
            est = np.exp(-t * s)
            assert abs(est.mean() - math.exp(-(t**alpha))) < 5 * est.std() / math.sqrt(len(s))


@pytest.mark.parametrize("name", ["mnl", "lc", "nl", "rl", "mc", "online"])
def test_sampler_law_matches_probabilities_on_every_offer_set(name):
    """The list sampler's empirical choice under each of the 31 offer sets of 5 products
    against P(· | S); one seeded stream, chi-square per set (Bonferroni over the 31)."""
    m = _models()[name]
    stream = m.sample_lists(np.full(4, 15_000), 2024)
    sets = all_sets(5)
    probs = m.probabilities(sets)
    pvals = [chi_square_p(stream, s, probs[b]) for b, s in enumerate(sets)]
    assert min(pvals) > 1e-3 / len(sets), (name, min(pvals))


def test_sequential_choice_would_be_rejected():
    """The chi-square check has power: a latent-class ranking built by sequential choices from
    the mixture's own P(· | remaining) (not exact) fails it on some offer set."""
    lc = LatentClassMNL(IDS, [0.5, 0.5], [[3, 3, -3, -3, 0], [-3, -3, 3, 3, 0]])
    rng = np.random.default_rng(5)
    table = np.cumsum(lc.probabilities(np.vstack([np.zeros(5, bool), all_sets(5)])), axis=1)
    lists = []
    for _ in range(6_000):
        left, lst = np.ones(5, bool), []
        while left.any():
            cum = table[int(left @ (1 << np.arange(5)))]  # row = bit code of the set left
            j = min(5, int(np.searchsorted(cum, rng.random() * cum[-1], side="right")))
            if j == 5:
                break
            lst.append(j)
            left[j] = False
        lists.append(lst)
    fake = Stream.from_lists([lists], 5)
    sets = all_sets(5)
    probs = lc.probabilities(sets)
    assert min(chi_square_p(fake, s, probs[b]) for b, s in enumerate(sets)) < 1e-6


def test_streams_are_seeded_and_lists_valid():
    for m in _models().values():
        a = m.sample_lists(np.array([3, 0, 5]), 7)
        b = m.sample_lists(np.array([3, 0, 5]), 7)
        assert np.array_equal(a.items, b.items) and np.array_equal(a.offsets, b.offsets)
        assert list(a.customers_per_scenario) == [3, 0, 5]
        for c in range(a.n_customers):
            lst = a.customer(c)
            assert len(set(lst.tolist())) == len(lst)


def test_aligned_permutes_products():
    perm = [3, 0, 4, 1, 2]
    ids = tuple(IDS[i] for i in perm)
    sets = all_sets(5)
    for name, m in _models().items():
        a = m.aligned(ids)
        assert a.ids == ids
        pa = a.probabilities(sets[:, perm])
        np.testing.assert_allclose(pa[:, :5], m.probabilities(sets)[:, perm], atol=1e-12)
        st = a.sample_lists(np.array([200]), 1)
        assert st.n_products == 5, name


def test_nested_sampler_pools_trivial_nests():
    """Singleton and τ = 1 nests are MNL products: law still exact on every set."""
    nl = NestedLogit(IDS, V, [0, 1, 2, 2, 3], [0.2, 1.0, 0.4, 0.5])
    stream = nl.sample_lists(np.array([60_000]), 9)
    sets = all_sets(5)
    probs = nl.probabilities(sets)
    assert min(chi_square_p(stream, s, probs[b]) for b, s in enumerate(sets)) > 1e-3 / 31


def test_probability_of_large_batch_matches_rowwise():
    rng = np.random.default_rng(0)
    sets = rng.random((50, 5)) < 0.5
    for m in _models().values():
        batch = m.probabilities(sets)
        for b in range(0, 50, 7):
            np.testing.assert_allclose(batch[b], m.probabilities(sets[b])[0], atol=1e-14)


def test_itertools_sanity_all_sets():
    assert (
        len({tuple(r) for r in all_sets(4)})
        == 15
        == sum(1 for _ in itertools.product([0, 1], repeat=4)) - 1
    )
