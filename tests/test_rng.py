"""Seeds: the one normaliser gives numpy's own streams for ints and SeedSequences, keeps a
Generator's stream, refuses None, and child seeds do not depend on how many are asked for."""

from __future__ import annotations

import numpy as np
import pytest

from assortopt.exceptions import OptionError
from assortopt.rng import as_generator, child_seeds, seed_sequence


def test_int_and_seed_sequence_give_numpys_streams() -> None:
    for seed in (0, 7, np.int64(12), np.uint64(2**63 + 5)):
        expect = np.random.default_rng(int(seed)).random(5)
        np.testing.assert_array_equal(as_generator(seed).random(5), expect)
        np.testing.assert_array_equal(np.random.default_rng(seed_sequence(seed)).random(5), expect)
    ss = np.random.SeedSequence(3).spawn(2)[1]
    assert seed_sequence(ss) is ss
    np.testing.assert_array_equal(
        as_generator(ss).random(3),
        np.random.default_rng(np.random.SeedSequence(3).spawn(2)[1]).random(3),
    )


def test_generator_is_used_in_place_and_none_is_refused() -> None:
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    first = np.random.default_rng(1).integers(0, 2**63 - 1)
    assert seed_sequence(np.random.default_rng(1)).entropy == first
    with pytest.raises(OptionError):
        seed_sequence(None)
    with pytest.raises(OptionError):
        as_generator(None)
    with pytest.raises(OptionError):
        child_seeds(None, 2)


def test_child_seeds_are_prefix_stable_and_spawn_like() -> None:
    long, short = child_seeds(9, 5), child_seeds(9, 2)
    np.testing.assert_array_equal(long[:2], short)
    kids = np.random.SeedSequence(9).spawn(5)
    np.testing.assert_array_equal(long, [k.generate_state(1, dtype=np.uint64)[0] for k in kids])
    np.testing.assert_array_equal(child_seeds(np.random.SeedSequence(9), 5), long)
    assert child_seeds(4, 0).shape == (0,)
