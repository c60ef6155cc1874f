"""Seeds: every random draw in assortopt comes from an explicit seed through here."""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Turn an int, SeedSequence or Generator into a ``np.random.Generator``.

    ``None`` is refused: assortopt never draws from an unseeded source.
    """
    if seed is None:
        raise ValueError("an explicit seed is required (got None)")
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def child_seeds(seed: int | np.random.SeedSequence, n: int) -> np.ndarray:
    """``n`` independent 64-bit seeds derived from ``seed`` (for compiled kernels and blocks).

    Block ``b`` always gets the same seed for a given ``seed``, however many blocks are asked for,
    so results do not depend on how work is chunked.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    children = (np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, b)) for b in range(n))
    return np.array([c.generate_state(1, dtype=np.uint64)[0] for c in children], dtype=np.uint64)
