"""The multi-step online choice model: search, examination, MNL purchase (PAPER-NOTES §8).

A customer (1) issues query q with probability w_q (heavy-tailed popularity); the engine returns a
ranked result list L(q); (2) she examines position k of the list with probability e_k,
independently across positions (``e = 1/log2(1+k)`` by default; top-K is ``e_k = 1`` for k ≤ K);
(3) among the examined products that are offered and in stock she buys j with the MNL
probability ``v_j / (v_0 + Σ v_l)``, or leaves. So

    P(j | A) = Σ_q w_q Σ_C P(C | q) · v_j 1[j ∈ C∩A] / (v_0 + Σ_{l∈C∩A} v_l),

a mixture of MNLs, hence a random-utility model. Two uses:

* **ground truth**: `OnlineChoiceModel.sample_lists` draws customers as preference lists (the
  ListSampler protocol): q, then C, then C ordered by an exponential race with rates v (the same
  law as sequential draws ∝ v without replacement), cut where the outside option (rate v_0)
  finishes. She buys the first product of her list that is in stock, which is exactly the
  model's choice under any availability.
* **calibration** to a Markov chain (Blanchet, Gallego & Goyal): ``λ_i = P(i | N)`` and
  ``ρ_ij = (P(j | N∖{i}) − P(j | N)) / P(i | N)``. The calibrated chain reproduces the model on
  the N+1 sets N and N∖{i} by construction; `calibration_error` measures it on other sets.

Exact versus Monte Carlo. Positions with ``0 < e_k < 1`` make 2^m consideration sets per query;
``mode="exact"`` enumerates them (all queries share the same position pattern, so one subset
table serves all of them) and is used by ``mode="auto"`` when ``2^m ≤ max_subsets`` (default
4096). Otherwise ``mode="mc"`` draws ``samples`` (q, C) pairs from an explicit seed and computes
the MNL part in closed form for each (conditional Monte Carlo); all offer sets are evaluated on
the same draws, so calibrated differences have no sign noise.

Removing product i only changes queries that list it, and ``1/(D − a_i) − 1/D = a_i/(D(D − a_i))``
with ``D`` the MNL denominator, so the N "all but one" sets cost one pass over (query, position
pair) entries and every ρ_ij is a sum of nonnegative terms: no cancellation, no negative entries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq

from ..exceptions import InstanceError, OptionError
from ..instance import Instance, save_instance
from ..jsonio import read_json, write_json_atomic
from ..rng import as_generator, child_seeds
from ..streams import Stream

__all__ = [
    "FORMAT",
    "ONLINE_DEFAULTS",
    "OnlineChoiceModel",
    "calibration_error",
    "examination_probabilities",
    "generate_online",
    "ground_truth_path",
    "load_ground_truth",
    "load_online_model",
    "save_online_model",
    "write_generated",
]

FORMAT = "assortopt-online/1"
MAX_SUBSETS = 4096
_CHUNK_ENTRIES = 1 << 21  # rows × subsets per exact chunk (memory ≈ 16 MB per array)
_SAMPLE_CHUNK = 1 << 16  # customers per sampling block (block b uses child seed b)


def examination_probabilities(kind: str | list[float], length: int, top_k: int = 5) -> np.ndarray:
    """Examination probability per position 1..length.

    ``"log"``: 1/log2(1+k) (the DCG discount). ``"topk"``: 1 for k ≤ top_k, else 0. A list of
    numbers is used as given (cut or padded with zeros to ``length``).
    """
    k = np.arange(1, length + 1, dtype=np.float64)
    if isinstance(kind, str):
        if kind == "log":
            return 1.0 / np.log2(1.0 + k)
        if kind == "topk":
            return (k <= top_k).astype(np.float64)
        raise OptionError(f"examination must be 'log', 'topk' or a list of numbers, got {kind!r}")
    e = np.zeros(length)
    given = np.asarray(kind, dtype=np.float64)[:length]
    e[: given.size] = given
    if not np.all((e >= 0) & (e <= 1)):
        raise OptionError("examination probabilities must lie in [0, 1]")
    return e


@dataclass(frozen=True, eq=False)
class OnlineChoiceModel:
    """Search → examination → MNL purchase, stored as arrays.

    Attributes
    ----------
    ids
        Product ids; product positions index ``v`` and the result lists.
    offsets, items
        CSR result lists: query q returns ``items[offsets[q]:offsets[q+1]]`` in rank order
        (distinct products, int32 positions).
    w
        Query probabilities (Q,), summing to 1.
    e
        Examination probability of each list position (length ≥ the longest list).
    v, v0
        MNL weights of the products (N,) and of the no-purchase option (> 0).
    """

    ids: tuple[str, ...]
    offsets: np.ndarray
    items: np.ndarray
    w: np.ndarray
    e: np.ndarray
    v: np.ndarray
    v0: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "offsets", np.ascontiguousarray(self.offsets, dtype=np.int64))
        object.__setattr__(self, "items", np.ascontiguousarray(self.items, dtype=np.int32))
        for name in ("w", "e", "v"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), np.float64))
        object.__setattr__(self, "v0", float(self.v0))
        lengths = np.diff(self.offsets)
        if self.offsets[0] != 0 or self.offsets[-1] != self.items.size or np.any(lengths < 0):
            raise ValueError("OnlineChoiceModel: bad result-list offsets")
        if self.w.size != lengths.size or self.v.size != len(self.ids):
            raise ValueError("OnlineChoiceModel: w must have one entry per query, v per product")
        if self.e.size < (lengths.max() if lengths.size else 0):
            raise ValueError("OnlineChoiceModel: e must cover the longest result list")
        if not self.v0 > 0:
            raise ValueError("OnlineChoiceModel: v0 must be > 0")

    # ------------------------------------------------------------------ shape
    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def n_products(self) -> int:
        """N (ListSampler protocol)."""
        return len(self.ids)

    @property
    def n_queries(self) -> int:
        return self.w.size

    @cached_property
    def index(self) -> dict[str, int]:
        return {pid: i for i, pid in enumerate(self.ids)}

    @cached_property
    def _padded(self) -> np.ndarray:
        """(Q, L) result lists padded with −1, L = the longest list."""
        lengths = np.diff(self.offsets)
        width = int(lengths.max()) if lengths.size else 0
        out = np.full((self.n_queries, width), -1, dtype=np.int64)
        col = np.arange(self.items.size) - np.repeat(self.offsets[:-1], lengths)
        out[np.repeat(np.arange(self.n_queries), lengths), col] = self.items
        return out

    @cached_property
    def _subsets(self) -> tuple[np.ndarray, np.ndarray]:
        """(M, p): every examined-position pattern (S, L) bool and its probability (S,)."""
        e = self.e[: self._padded.shape[1]]
        free = np.flatnonzero((e > 0) & (e < 1))
        s = 1 << free.size
        bits = ((np.arange(s)[:, None] >> np.arange(free.size)[None, :]) & 1).astype(bool)
        m = np.zeros((s, e.size), dtype=bool)
        m[:, e >= 1] = True
        m[:, free] = bits
        p = np.prod(np.where(bits, e[free], 1.0 - e[free]), axis=1)
        return m, p

    @property
    def n_subsets(self) -> int:
        """Consideration sets per query that exact mode enumerates (2^#fractional positions)."""
        e = self.e[: self._padded.shape[1]]
        return 1 << int(np.count_nonzero((e > 0) & (e < 1)))

    def exact_feasible(self, max_subsets: int = MAX_SUBSETS) -> bool:
        return self.n_subsets <= max_subsets

    def _mode(self, mode: str, max_subsets: int) -> str:
        if mode == "auto":
            return "exact" if self.exact_feasible(max_subsets) else "mc"
        if mode not in ("exact", "mc"):
            raise OptionError(f"mode must be auto, exact or mc, got {mode!r}")
        return mode

    # ------------------------------------------------------------------ the engine
    def _scenarios(self, mode: str, samples: int, seed: Any):
        """(lists (R, L), weights (R,), M (S, L), p (S,)): a mixture of MNLs over the lists.

        Exact: the query lists with all examination patterns. MC: ``samples`` drawn (q, C)
        pairs, each one list (unexamined positions blanked) examined in full.
        """
        if mode == "exact":
            m, p = self._subsets
            return self._padded, self.w, m, p
        if samples < 1:
            raise OptionError(f"samples must be >= 1, got {samples}")
        rng = as_generator(seed)
        q = _draw(rng, self.w, samples)
        lists = self._padded[q].copy()
        lists[rng.random(lists.shape) >= self.e[None, : lists.shape[1]]] = -1
        width = lists.shape[1]
        return lists, np.full(samples, 1.0 / samples), np.ones((1, width), bool), np.ones(1)

    def _evaluate(self, offered: np.ndarray, scen, pairs: bool):
        """Purchase probabilities P (N,), P0, and with ``pairs`` the removal increments.

        The increments are, per (row r, positions k ≠ l), the rise of P(list[l]) when list[k]
        is removed from the offer: ``w_r Σ_s p_s M_sk M_sl a_k a_l / (D (D − a_k))``.
        """
        lists, weights, m, p = scen
        n = self.n
        valid = lists >= 0
        vv = np.where(valid, self.v[np.maximum(lists, 0)] * offered[np.maximum(lists, 0)], 0.0)
        mf = m.astype(np.float64)
        big_p = np.zeros(n)
        p0 = 0.0
        pair_rows, pair_cols, pair_vals = [], [], []
        width = lists.shape[1]
        step = max(1, _CHUNK_ENTRIES // max(1, m.shape[0]))
        for r0 in range(0, lists.shape[0], step):
            a = vv[r0 : r0 + step]
            wr = weights[r0 : r0 + step]
            d = self.v0 + a @ mf.T  # (R, S)
            g = wr[:, None] * p[None, :] / d  # (R, S)
            p0 += float(self.v0 * g.sum())
            contrib = a * (g @ mf)  # (R, L)
            lr = lists[r0 : r0 + step]
            ok = lr >= 0
            big_p += np.bincount(lr[ok], weights=contrib[ok], minlength=n)
            if not pairs:
                continue
            for k in range(width):
                ak = a[:, k]
                live = np.flatnonzero(ak > 0)
                if live.size == 0:
                    continue
                dk = d[live]
                gk = (wr[live, None] * p[None, :] * mf[None, :, k]) / (dk * (dk - ak[live, None]))
                inc = (gk @ mf) * a[live] * ak[live, None]  # (R', L)
                inc[:, k] = 0.0
                good = (inc > 0) & (lr[live] >= 0)
                rr, cc = np.nonzero(good)
                pair_rows.append(lr[live, k][rr])
                pair_cols.append(lr[live][rr, cc])
                pair_vals.append(inc[rr, cc])
        if not pairs:
            return big_p, p0, None
        if pair_rows:
            rows = np.concatenate(pair_rows)
            cols = np.concatenate(pair_cols)
            vals = np.concatenate(pair_vals)
        else:
            rows = cols = np.zeros(0, np.int64)
            vals = np.zeros(0)
        inc = sp.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
        inc.sum_duplicates()
        return big_p, p0, inc

    # ------------------------------------------------------------------ public API
    def choice_probabilities(
        self,
        offered: Any = None,
        mode: str = "auto",
        samples: int = 200_000,
        seed: Any = 0,
        max_subsets: int = MAX_SUBSETS,
    ) -> np.ndarray:
        """P(j | offered) for every product j (N,); the rest, 1 − ΣP, is no purchase.

        ``offered``: bool mask, ids or positions (None: everything). ``mode="auto"`` is exact
        when at most ``max_subsets`` consideration sets per query, else Monte Carlo over
        ``samples`` (q, C) draws from ``seed`` (the MNL part stays closed-form).
        """
        from .mc import offered_mask

        mask = np.ones(self.n, bool) if offered is None else offered_mask(self, offered)  # type: ignore[arg-type]
        scen = self._scenarios(self._mode(mode, max_subsets), samples, seed)
        return self._evaluate(mask.astype(np.float64), scen, pairs=False)[0]

    def calibrate(
        self,
        mode: str = "auto",
        samples: int = 200_000,
        seed: Any = 0,
        max_subsets: int = MAX_SUBSETS,
        info: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, sp.csr_array]:
        """The Markov chain fitted on the sets N and N∖{i}: ``(arrival, transitions csr)``.

        ``λ_i = P(i | N)``, ``ρ_ij = (P(j | N∖{i}) − P(j | N)) / P(i | N)``; a product never
        chosen (P(i | N) = 0) gets an empty row. Entries are sums of nonnegative terms, so
        nothing needs clipping; a row whose sum exceeds 1 by rounding is rescaled to 1 − 1e-12.
        If ``info`` is a dict it receives ``mode``, ``samples`` (MC), ``seed`` (MC),
        ``clipped_negative`` (always 0, kept for the record), ``rows_rescaled``, ``max_row_sum``.
        """
        mode = self._mode(mode, max_subsets)
        scen = self._scenarios(mode, samples, seed)
        big_p, _, inc = self._evaluate(np.ones(self.n), scen, pairs=True)
        inv = np.divide(1.0, big_p, out=np.zeros(self.n), where=big_p > 0)
        rho = sp.csr_array(sp.diags_array(inv) @ inc)
        sums = np.asarray(rho.sum(axis=1)).ravel()
        over = sums > 1.0 - 1e-12
        if np.any(over):
            scale = np.where(over, (1.0 - 1e-12) / np.where(over, sums, 1.0), 1.0)
            rho = sp.csr_array(sp.diags_array(scale) @ rho)
        rho.eliminate_zeros()
        rho.sort_indices()
        if info is not None:
            info.update(
                {
                    "mode": mode,
                    "clipped_negative": 0,
                    "rows_rescaled": int(over.sum()),
                    "max_row_sum": float(sums.max()) if sums.size else 0.0,
                }
            )
            if mode == "mc":
                info.update({"samples": int(samples), "seed": _jsonable_seed(seed)})
        return big_p, rho

    def sample_lists(self, counts: Any, seed: Any) -> Stream:
        """Customers as preference lists, scenario k holding ``counts[k]`` customers.

        Per customer: query q ~ w; positions examined independently with probability e_k;
        examined products ordered by an exponential race with rates v, cut where the outside
        option (rate v0) finishes. Blocks of 65,536 customers use child seeds of ``seed``, so the
        stream does not depend on how it is chunked.
        """
        counts = np.asarray(counts, dtype=np.int64).ravel()
        if np.any(counts < 0):
            raise OptionError("counts must be >= 0")
        total = int(counts.sum())
        base = (
            seed
            if isinstance(seed, np.random.SeedSequence)
            else np.random.SeedSequence(_seed_entropy(seed))
        )
        n_blocks = -(-total // _SAMPLE_CHUNK)
        seeds = child_seeds(base, n_blocks) if n_blocks else []
        lens, parts = [], []
        for b in range(n_blocks):
            size = min(_SAMPLE_CHUNK, total - b * _SAMPLE_CHUNK)
            ln, it = self._sample_block(np.random.default_rng(int(seeds[b])), size)
            lens.append(ln)
            parts.append(it)
        lengths = np.concatenate(lens) if lens else np.zeros(0, np.int64)
        items = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        so = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        return Stream(offsets, items, so, self.n)

    def _sample_block(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        lists = self._padded[_draw(rng, self.w, size)]
        width = lists.shape[1]
        examined = (rng.random((size, width)) < self.e[None, :width]) & (lists >= 0)
        rate = np.where(examined, self.v[np.maximum(lists, 0)], 0.0)
        with np.errstate(divide="ignore"):
            times = rng.standard_exponential((size, width)) / rate
        outside = rng.standard_exponential(size) / self.v0
        keep = times < outside[:, None]
        times[~keep] = np.inf
        order = np.argsort(times, axis=1, kind="stable")
        ranked = np.take_along_axis(lists, order, axis=1)
        lengths = keep.sum(axis=1)
        take = np.arange(width)[None, :] < lengths[:, None]
        return lengths.astype(np.int64), ranked[take].astype(np.int32)

    # ------------------------------------------------------------------ files
    def aligned_to(self, ids: tuple[str, ...] | list[str]) -> OnlineChoiceModel:
        """The same model with products renumbered in the order of ``ids`` (same id set)."""
        ids = tuple(ids)
        if sorted(ids) != sorted(self.ids):
            raise OptionError("aligned_to: the ids must be the model's products")
        if ids == self.ids:
            return self
        new_pos = np.array([self.index[pid] for pid in ids])  # new position → old position
        old_to_new = np.empty(self.n, dtype=np.int64)
        old_to_new[new_pos] = np.arange(self.n)
        return OnlineChoiceModel(
            ids,
            self.offsets,
            old_to_new[self.items],
            self.w,
            self.e,
            self.v[new_pos],
            self.v0,
            dict(self.metadata),
        )

    def to_dict(self) -> dict[str, Any]:
        """The sidecar JSON (``assortopt-online/1``): products with weights, queries with lists."""
        lengths = np.diff(self.offsets)
        width = int(lengths.max()) if lengths.size else 0
        out: dict[str, Any] = {
            "format": FORMAT,
            "no_purchase_weight": self.v0,
            "examination": self.e[:width].tolist() if width else self.e.tolist(),
            "products": [
                {"id": pid, "weight": x} for pid, x in zip(self.ids, self.v.tolist(), strict=True)
            ],
            "queries": [
                {"weight": wq, "results": [self.ids[i] for i in self.items[a:b].tolist()]}
                for wq, a, b in zip(
                    self.w.tolist(),
                    self.offsets[:-1].tolist(),
                    self.offsets[1:].tolist(),
                    strict=True,
                )
            ],
        }
        if self.metadata:
            out["metadata"] = self.metadata
        return out

    @staticmethod
    def from_dict(d: Any, source: str | None = None) -> OnlineChoiceModel:
        """Read the sidecar JSON; `InstanceError` names the file and the field on bad input."""

        def fail(fld: str, msg: str) -> None:
            raise InstanceError(fld, msg, source)

        if not isinstance(d, dict):
            fail("", "must be a JSON object (an online choice model)")
        allowed = {"format", "no_purchase_weight", "examination", "products", "queries", "metadata"}
        for key in d:
            if key not in allowed:
                fail(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in ("no_purchase_weight", "examination", "products", "queries"):
            if key not in d:
                fail(key, "missing (required)")
        if d.get("format", FORMAT) != FORMAT:
            fail("format", f"must be {FORMAT!r}, got {d['format']!r}")
        v0 = _num(d["no_purchase_weight"], "no_purchase_weight", fail)
        if not v0 > 0:
            fail("no_purchase_weight", f"must be > 0, got {v0}")
        if not isinstance(d["examination"], list):
            fail("examination", "must be a list of numbers")
        e = np.array([_num(x, f"examination[{k}]", fail) for k, x in enumerate(d["examination"])])
        bad = np.flatnonzero(~((e >= 0) & (e <= 1)))
        if bad.size:
            fail(f"examination[{bad[0]}]", "must lie in [0, 1]")
        prods = d["products"]
        if not isinstance(prods, list) or not prods:
            fail("products", "must be a non-empty list of {id, weight}")
        index: dict[str, int] = {}
        v = np.empty(len(prods))
        for k, p in enumerate(prods):
            if not isinstance(p, dict) or set(p) != {"id", "weight"}:
                fail(f"products[{k}]", "must be an object with keys id and weight")
            pid = p["id"]
            if not isinstance(pid, str) or not pid or pid in index:
                fail(f"products[{k}].id", f"must be a new non-empty string, got {pid!r}")
            index[pid] = k
            v[k] = _num(p["weight"], f"products[{k}].weight", fail)
            if not v[k] >= 0:
                fail(f"products[{k}].weight", f"must be >= 0, got {v[k]}")
        queries = d["queries"]
        if not isinstance(queries, list) or not queries:
            fail("queries", "must be a non-empty list of {weight, results}")
        w = np.empty(len(queries))
        offsets = [0]
        items: list[int] = []
        for k, q in enumerate(queries):
            if not isinstance(q, dict) or set(q) != {"weight", "results"}:
                fail(f"queries[{k}]", "must be an object with keys weight and results")
            w[k] = _num(q["weight"], f"queries[{k}].weight", fail)
            if not w[k] >= 0:
                fail(f"queries[{k}].weight", f"must be >= 0, got {w[k]}")
            res = q["results"]
            if not isinstance(res, list):
                fail(f"queries[{k}].results", "must be a list of product ids")
            if len(res) > e.size:
                fail(f"queries[{k}].results", f"longer than examination ({e.size} positions)")
            for j, pid in enumerate(res):
                if not isinstance(pid, str) or pid not in index:
                    fail(f"queries[{k}].results[{j}]", f"unknown product id {pid!r}")
                items.append(index[pid])
            if len(set(res)) != len(res):
                fail(f"queries[{k}].results", "lists a product twice")
            offsets.append(len(items))
        if abs(w.sum() - 1.0) > 1e-9:
            fail("queries[*].weight", f"the query weights sum to {w.sum():.10g}, must be 1")
        meta = d.get("metadata", {})
        if not isinstance(meta, dict):
            fail("metadata", "must be an object")
        return OnlineChoiceModel(
            tuple(index), np.array(offsets), np.array(items, dtype=np.int32), w, e, v, v0, meta
        )


def _num(x: Any, fld: str, fail: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        fail(fld, "must be a number")
    if not np.isfinite(float(x)):
        fail(fld, "must be a finite number")
    return float(x)


def _draw(rng: np.random.Generator, w: np.ndarray, size: int) -> np.ndarray:
    cw = np.cumsum(w)
    return np.minimum(np.searchsorted(cw, rng.random(size) * cw[-1], side="right"), w.size - 1)


def _seed_entropy(seed: Any) -> int:
    if seed is None:
        raise ValueError("an explicit seed is required (got None)")
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    return int(seed)


def _jsonable_seed(seed: Any) -> Any:
    return int(seed) if isinstance(seed, int | np.integer) else str(seed)


def save_online_model(model: OnlineChoiceModel, path: str | os.PathLike[str]) -> None:
    """Write the model's JSON atomically."""
    write_json_atomic(path, model.to_dict())


def load_online_model(path: str | os.PathLike[str]) -> OnlineChoiceModel:
    """Read a model written by `save_online_model` (raises `InstanceError` naming the file)."""
    return OnlineChoiceModel.from_dict(read_json(path), source=str(path))


# ====================================================================== calibration error
def calibration_error(
    model: OnlineChoiceModel,
    instance: Instance,
    n_sets: int = 50,
    seed: Any = 0,
    mode: str = "auto",
    samples: int = 200_000,
    rel_floor: float = 1e-3,
) -> dict[str, Any]:
    """How well the instance's Markov chain reproduces the online model on random offer sets.

    Each set includes every product independently with a probability drawn from U[0.2, 0.9]
    (never empty). For each set, P_true comes from the online model (exact, or Monte Carlo for
    ``mode="mc"``: then the figures include sampling noise) and P_mc from
    `assortopt.choice.mc.choice_probabilities`. Returns ``max_abs``/``mean_abs`` (over offered
    products and no purchase), ``max_rel``/``mean_rel`` (|ΔP|/P_true over entries with
    P_true ≥ ``rel_floor``), ``max_tv`` (largest total variation ½Σ|ΔP| over a set), ``n_sets``,
    ``mode``.
    """
    from .mc import choice_probabilities as mc_probs

    m = model.aligned_to(instance.ids)
    rng = as_generator(seed)
    mode = m._mode(mode, MAX_SUBSETS)
    scen = m._scenarios(mode, samples, rng)
    abs_err, rel_err, tv = [], [], []
    for _ in range(int(n_sets)):
        mask = rng.random(m.n) < rng.uniform(0.2, 0.9)
        if not mask.any():
            mask[rng.integers(m.n)] = True
        p_true = m._evaluate(mask.astype(np.float64), scen, pairs=False)[0][mask]
        p_mc = np.asarray(mc_probs(instance, mask))[mask]
        t = np.append(p_true, 1.0 - p_true.sum())
        c = np.append(p_mc, 1.0 - p_mc.sum())
        diff = np.abs(t - c)
        abs_err.append(diff)
        big = t >= rel_floor
        rel_err.append(diff[big] / t[big])
        tv.append(0.5 * diff.sum())
    ae = np.concatenate(abs_err)
    re_ = np.concatenate(rel_err) if rel_err else np.zeros(0)
    return {
        "n_sets": int(n_sets),
        "mode": mode,
        "max_abs": float(ae.max()),
        "mean_abs": float(ae.mean()),
        "max_rel": float(re_.max()) if re_.size else 0.0,
        "mean_rel": float(re_.mean()) if re_.size else 0.0,
        "max_tv": float(max(tv)),
        "rel_floor": rel_floor,
    }


# ====================================================================== generator
ONLINE_DEFAULTS: dict[str, Any] = {
    "queries_per_product": 0.5,
    "query_alpha": 1.0,
    "list_length": 10,
    "examination": "log",
    "top_k": 5,
    "category_size": [5, 20],
    "outside_share": 0.2,
    "relevance_noise": 1.0,
    "mode": "auto",
    "samples": 200_000,
    "error_sets": 20,
}


def _build_queries(
    n: int, v: np.ndarray, rng: np.random.Generator, p: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Result lists: each category gets queries; a list holds mostly products of its category
    (every product anchored in at least one list) plus a share from elsewhere, ranked by
    relevance log v + Gumbel noise."""
    from ..generators import categories

    length = int(p["list_length"])
    if length < 1:
        raise OptionError(f"list_length must be >= 1, got {length}")
    share = float(p["outside_share"])
    if not 0 <= share < 1:
        raise OptionError(f"outside_share must lie in [0, 1), got {share}")
    cat = categories(n, p["category_size"], rng)
    n_in = max(1, round(length * (1.0 - share)))
    offsets, items = [0], []
    for c in range(int(cat.max()) + 1):
        members = np.flatnonzero(cat == c)
        others = np.flatnonzero(cat != c)
        n_q = max(-(-members.size // n_in), round(float(p["queries_per_product"]) * members.size))
        anchors = rng.permutation(members)
        for j in range(n_q):
            anchored = anchors[j::n_q]
            rest = np.setdiff1d(members, anchored)
            k_in = min(n_in, members.size) - anchored.size
            inside = np.concatenate([anchored, rng.choice(rest, max(0, k_in), replace=False)])
            k_out = min(length - inside.size, others.size)
            chosen = np.concatenate([inside, rng.choice(others, k_out, replace=False)])
            score = np.log(v[chosen]) + float(p["relevance_noise"]) * rng.gumbel(size=chosen.size)
            items.append(chosen[np.argsort(-score, kind="stable")])
            offsets.append(offsets[-1] + chosen.size)
    return np.array(offsets), np.concatenate(items).astype(np.int32)


def generate_online(
    n_products: int, customers: float, seed: int, **params: Any
) -> tuple[Instance, OnlineChoiceModel]:
    """A multi-step online choice model and the Markov chain instance calibrated to it.

    Products get heavy-tailed MNL weights v (``tail``/``alpha``/``shape``/``sigma``), random
    categories; each category gets about ``queries_per_product``·size queries whose result
    lists (``list_length``, a share ``outside_share`` from other categories) are ranked by
    relevance; query popularity is Zipf(``query_alpha``) in random order; examination is
    ``examination`` ("log", "topk" with ``top_k``, or a list). v0 is solved so that
    P(no purchase | all) = ``no_purchase``. The chain is calibrated (``mode``, ``samples``)
    and its error on ``error_sets`` random offer sets is recorded in
    ``metadata["calibration"]``. Products are renumbered by λ rank (p0001 most chosen).
    Prices, costs and constraints follow the common parameters of `assortopt.generators`.
    """
    from ..generators import _finish, _resolve, _seeds, common_parts

    p = _resolve("online", params)
    n = int(n_products)
    w_prod, price, cost, kw = common_parts(n, customers, seed, p)
    g = _seeds(seed)[2]
    v = w_prod * n
    offsets, items = _build_queries(n, v, g, p)
    n_q = offsets.size - 1
    zipf = np.arange(1, n_q + 1, dtype=np.float64) ** (-float(p["query_alpha"]))
    w = np.empty(n_q)
    w[g.permutation(n_q)] = zipf / zipf.sum()
    e = examination_probabilities(p["examination"], int(np.diff(offsets).max()), int(p["top_k"]))
    ids = tuple(f"x{i}" for i in range(n))
    model = OnlineChoiceModel(ids, offsets, items, w, e, v, 1.0)
    lam0 = float(p["no_purchase"])
    mode = model._mode(p["mode"], MAX_SUBSETS)
    scen = model._scenarios(mode, int(p["samples"]), _seeds(seed)[3])

    def gap(log_v0: float) -> float:
        m = OnlineChoiceModel(ids, offsets, items, w, e, v, float(np.exp(log_v0)))
        return m._evaluate(np.ones(n), scen, pairs=False)[1] - lam0

    v0 = float(np.exp(brentq(gap, -30.0, 30.0, xtol=1e-12, rtol=1e-14)))
    model = OnlineChoiceModel(ids, offsets, items, w, e, v, v0)
    info: dict[str, Any] = {}
    arrival, rho = model.calibrate(mode, int(p["samples"]), _seeds(seed)[3], info=info)
    # renumber products by λ rank
    order = np.lexsort((np.arange(n), -arrival))
    new_ids = list(ids)
    from ..generators import product_ids

    final_ids = product_ids(n)
    for rank, old in enumerate(order):
        new_ids[old] = final_ids[rank]
    model = OnlineChoiceModel(tuple(new_ids), offsets, items, w, e, v, v0).aligned_to(final_ids)
    arrival = arrival[order]
    rho = sp.csr_array(rho[order][:, order])
    inst = _finish(
        "online", n, customers, seed, p, arrival, rho, price, cost, kw, {"calibration": info}
    )
    if int(p["error_sets"]) > 0:
        info["error"] = calibration_error(
            model, inst, int(p["error_sets"]), seed=int(seed), mode=mode, samples=int(p["samples"])
        )
        inst.metadata["calibration"] = info
    model.metadata.update({"generator": inst.metadata["generator"], "instance": inst.name})
    return inst, model


# ====================================================================== files
def ground_truth_path(path: str | os.PathLike[str]) -> Path:
    """``X.online.json`` next to the instance file ``X.json``."""
    path = Path(path)
    stem = path.name[:-5] if path.name.endswith(".json") else path.name
    return path.with_name(stem + ".online.json")


def write_generated(
    inst: Instance, path: str | os.PathLike[str], ground_truth: OnlineChoiceModel | None = None
) -> Instance:
    """Write ``inst`` (and the ground-truth model next to it, named in ``metadata``) atomically.

    Both files are written through temporary files and renames: the sidecar first, then the
    instance that names it. Returns the instance as written.
    """
    if ground_truth is not None:
        side = ground_truth_path(path)
        meta = dict(inst.metadata)
        meta["ground_truth"] = side.name
        inst = inst.replace(metadata=meta)
        save_online_model(ground_truth.aligned_to(inst.ids), side)
    save_instance(inst, path)
    return inst


def load_ground_truth(
    inst: Instance, path: str | os.PathLike[str] | None = None
) -> OnlineChoiceModel | None:
    """The ground-truth model named by ``inst.metadata["ground_truth"]`` (None if there is none),
    aligned to the instance's product order. The name is resolved next to ``path`` or to
    ``inst.source``."""
    name = inst.metadata.get("ground_truth") if isinstance(inst.metadata, dict) else None
    if not name:
        return None
    base = Path(path if path is not None else (inst.source or ".")).parent
    model = load_online_model(base / str(name))
    if sorted(model.ids) != sorted(inst.ids):
        raise InstanceError("metadata.ground_truth", f"{name} lists other products", inst.source)
    return model.aligned_to(inst.ids)
