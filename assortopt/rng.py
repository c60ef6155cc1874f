"""Seeds: every random draw in assortopt comes from an explicit seed through here.

`seed_sequence` is the one normaliser; `as_generator` and `child_seeds` are built on it, so an
int seed ``n`` means ``SeedSequence(n)`` everywhere (``np.random.default_rng(n)`` draws the same
numbers).
"""

from __future__ import annotations

import numpy as np

from .exceptions import OptionError

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Turn an int, SeedSequence or Generator into a ``np.random.SeedSequence``.

    An int (numpy integers included) ``n`` gives ``SeedSequence(n)``, a SeedSequence is kept as
    it is, and a Generator gives ``SeedSequence(k)`` for one draw ``k`` in [0, 2⁶³ − 1) from it
    (the Generator advances). ``None`` raises `OptionError`: assortopt never draws from an
    unseeded source.
    """
    if seed is None:
        raise OptionError("an explicit seed is required (got None)")
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63 - 1)))
    return np.random.SeedSequence(int(seed))


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Turn an int, SeedSequence or Generator into a ``np.random.Generator``.

    A Generator is returned as it is (draws continue its stream); anything else goes through
    `seed_sequence` (``None`` is refused).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_sequence(seed))


def child_seeds(seed: SeedLike, n: int) -> np.ndarray:
    """``n`` independent 64-bit seeds derived from ``seed`` (for compiled kernels and blocks).

    Block ``b`` always gets the same seed for a given ``seed``, however many blocks are asked for,
    so results do not depend on how work is chunked.
    """
    ss = seed_sequence(seed)
    children = (np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, b)) for b in range(n))
    return np.array([c.generate_state(1, dtype=np.uint64)[0] for c in children], dtype=np.uint64)
