"""Customer streams: how many customers each scenario has and each customer's preference list.

A Markov chain customer's list is the order of first visits of her walk as if nothing were
available, until she leaves (or every product has been visited). It is never cut short: chains
whose customers rarely leave (an MNL model turned into a chain with large utilities) are the
hard case, and every method here stays exact on them (README.md, preference lists):

``walk``
    step by step, recording first visits. Exact; slow when exits are rare.
``jump``
    from the current product c with visited set V, jump straight to the next unvisited product
    or the exit, with row c of ``(I − ρ_VV)^{-1} ρ_{V, V̄∪{exit}}``; the inverse grows one
    product at a time (bordered inverse, subtraction-free, see `assortopt._kernels`).
``mnl``
    for MNL-induced chains (`detect_mnl`): draws without replacement ∝ u_j, ending when the
    outside option (weight 1) is drawn. Same law as the walk's first visits (see
    `assortopt.choice.mnl`).
``hybrid``
    walk, and once a customer has made many steps without a new visit (48 + m³/16 with m
    products listed so far), jump for the rest of her list (exact by the Markov property).
``auto``
    ``mnl`` when the chain is MNL-induced, otherwise ``hybrid``.

Seeds (normalised by `assortopt.rng.seed_sequence`): counts come from
``np.random.default_rng(seed)``; lists from per-block child seeds of ``seed``
(`assortopt.rng.child_seeds`, blocks of ``SCENARIO_BLOCK`` scenarios) mixed with the scenario
index inside the kernel, so scenario k's customers never depend on chunking or threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import numpy as np

from . import _kernels
from .exceptions import OptionError
from .instance import Instance
from .rng import as_generator, child_seeds, seed_sequence
from .streams import Stream

__all__ = [
    "METHODS",
    "SCENARIO_BLOCK",
    "ListSampler",
    "MarkovChainSampler",
    "customer_counts",
    "default_sampler",
    "detect_mnl",
    "sample_streams",
]

#: Scenarios per child seed inside a sampler (fixed: part of the meaning of a seed).
SCENARIO_BLOCK = 1024
METHODS = ("auto", "walk", "jump", "hybrid", "mnl")
_METHOD_CODE = {"walk": 0, "jump": 1, "hybrid": 2}


@runtime_checkable
class ListSampler(Protocol):
    """Anything that draws customers as preference lists over ``n_products`` products."""

    @property
    def n_products(self) -> int: ...

    def sample_lists(self, counts: np.ndarray, seed: Any) -> Stream:
        """Scenario k gets ``counts[k]`` customers; the same seed gives the same stream.

        ``seed`` is anything `assortopt.rng.seed_sequence` takes; `sample_streams` passes a
        ``SeedSequence``.
        """
        ...


def customer_counts(inst: Instance, n_scenarios: int, rng: Any) -> np.ndarray:
    """Customers per scenario (int64, length ``n_scenarios``): the mean when the distribution is
    fixed, Poisson(mean) draws otherwise. ``rng`` is a seed or a ``np.random.Generator``."""
    if n_scenarios < 0:
        raise OptionError(f"number of scenarios must be >= 0, got {n_scenarios}")
    if inst.customers_distribution == "poisson":
        return as_generator(rng).poisson(inst.customers_mean, size=n_scenarios).astype(np.int64)
    return np.full(n_scenarios, int(round(inst.customers_mean)), dtype=np.int64)


def detect_mnl(inst: Instance, rtol: float = 1e-9) -> np.ndarray | None:
    """MNL weights u (no-purchase weight 1) if the chain is MNL-induced, else None.

    u_i = λ_i/λ_0 (needs λ_0 > 0); the chain is MNL-induced when ρ_ij = u_j/(1 + U − u_i) for
    every i ≠ j (within ``rtol``), zero entries included: the number of stored entries must be
    (number of products with u_j > 0)·(N − 1). Raises nothing.
    """
    lam0 = inst.no_purchase
    n = inst.n
    if not lam0 > 0 or n == 0:
        return None
    u = inst.arrival / lam0
    rho = inst.transitions
    positive = int(np.count_nonzero(u > 0))
    if rho.nnz != positive * (n - 1):
        return None
    total = float(u.sum())
    rows = np.repeat(np.arange(n), np.diff(rho.indptr))
    cols = rho.indices
    if np.any(rows == cols) or np.any(u[cols] <= 0):
        return None
    expected = u[cols] / (1.0 + total - u[rows])
    if not np.allclose(rho.data, expected, rtol=rtol, atol=0.0):
        return None
    return u


class MarkovChainSampler:
    """Exact first-visit preference lists of an instance's Markov chain (`ListSampler`).

    Parameters
    ----------
    inst
        The instance whose chain (arrival λ, transitions ρ) customers walk.
    method
        ``"auto"`` (default), ``"walk"``, ``"jump"``, ``"hybrid"`` or ``"mnl"`` (see the module
        docstring); ``method`` then holds the one used.
        ``"mnl"`` raises `OptionError` unless `detect_mnl` finds the chain MNL-induced.
    threads
        Worker threads (the kernels release the GIL); the stream is the same for any value.
    chunk
        Scenarios per kernel call (bounds the size of one call); no effect on the stream.
    """

    def __init__(
        self, inst: Instance, method: str = "auto", threads: int = 1, chunk: int = 4096
    ) -> None:
        if method not in METHODS:
            raise OptionError(
                f"sampling method must be one of {', '.join(METHODS)}, got {method!r}"
            )
        if threads < 1 or chunk < 1:
            raise OptionError("threads and chunk must be >= 1")
        self.inst = inst
        self.threads = int(threads)
        self.chunk = int(chunk)
        self.weights: np.ndarray | None = None
        if method in ("auto", "mnl"):
            self.weights = detect_mnl(inst)
            if self.weights is None and method == "mnl":
                raise OptionError("sampling method 'mnl': the chain is not MNL-induced")
        self.method = (
            "mnl" if self.weights is not None else ("hybrid" if method == "auto" else method)
        )
        rho = inst.transitions
        self._indptr = rho.indptr.astype(np.int64)
        self._indices = rho.indices.astype(np.int64)
        self._data = np.ascontiguousarray(rho.data, dtype=np.float64)
        self._row_cum = _kernels.row_cumsum(self._indptr, self._data)
        self._arr_cum = np.cumsum(inst.arrival)
        self._exit = np.ascontiguousarray(inst.exit_prob, dtype=np.float64)

    @property
    def n_products(self) -> int:
        return self.inst.n

    def __repr__(self) -> str:
        return f"MarkovChainSampler({self.inst.name or 'instance'!r}, method={self.method!r})"

    def _run(self, counts: np.ndarray, k0: int, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.method == "mnl":
            return _kernels.sample_mnl_lists(counts, k0, seeds, SCENARIO_BLOCK, self.weights)
        return _kernels.sample_mc_lists(
            counts,
            k0,
            seeds,
            SCENARIO_BLOCK,
            self._arr_cum,
            self._indptr,
            self._indices,
            self._data,
            self._row_cum,
            self._exit,
            _METHOD_CODE[self.method],
        )

    def sample_lists(self, counts: np.ndarray, seed: Any) -> Stream:
        """Scenario k gets ``counts[k]`` customers, each a complete first-visit list."""
        counts = np.ascontiguousarray(counts, dtype=np.int64).ravel()
        if np.any(counts < 0):
            raise OptionError("customer counts must be >= 0")
        n_scen = len(counts)
        n_blocks = max(1, -(-n_scen // SCENARIO_BLOCK))
        seeds = child_seeds(seed, n_blocks)
        starts = list(range(0, n_scen, self.chunk)) or [0]
        jobs = [(counts[s : s + self.chunk], s) for s in starts]
        if self.threads > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                parts = list(pool.map(lambda job: self._run(job[0], job[1], seeds), jobs))
        else:
            parts = [self._run(c, s, seeds) for c, s in jobs]
        if len(parts) == 1:
            offsets, items = parts[0]
        else:
            shift = np.cumsum([0] + [len(p[1]) for p in parts[:-1]])
            offsets = np.concatenate(
                [[0]] + [p[0][1:] + b for p, b in zip(parts, shift, strict=True)]
            )
            items = np.concatenate([p[1] for p in parts])
        scen_offsets = np.concatenate([[0], np.cumsum(counts)])
        return Stream(offsets, items, scen_offsets, self.inst.n)


def default_sampler(inst: Instance) -> MarkovChainSampler:
    """The instance's own choice model as a list sampler (``method="auto"``)."""
    return MarkovChainSampler(inst)


def sample_streams(
    inst: Instance, scenarios: int, seed: Any, sampler: ListSampler | None = None
) -> Stream:
    """``scenarios`` scenarios of customers: counts by `customer_counts`, lists by ``sampler``
    (default: the instance's chain, `MarkovChainSampler` with ``method="auto"``).

    The same seed gives identical arrays. Raises `OptionError` for a negative number of
    scenarios, a missing seed, or a sampler over a different number of products.
    """
    base = seed_sequence(seed)
    sampler = default_sampler(inst) if sampler is None else sampler
    if sampler.n_products != inst.n:
        raise OptionError(f"sampler has {sampler.n_products} products, the instance has {inst.n}")
    counts = customer_counts(inst, int(scenarios), np.random.default_rng(base))
    return sampler.sample_lists(counts, base)
