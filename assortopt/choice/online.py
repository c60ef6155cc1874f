"""The multi-step online choice model: search, examination, MNL purchase.

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

The sidecar file (``X.online.json``) is read and written by `assortopt.choice.online_io`; the
random family that draws such models is ``generate_online`` in `assortopt.generators`.

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

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq

from ..exceptions import OptionError
from ..instance import Instance
from ..rng import as_generator, child_seeds
from ..streams import Stream
from .mc import choice_probabilities as mc_probs
from .mc import offered_mask
from .protocol import offer_matrix

__all__ = [
    "MAX_SUBSETS",
    "OnlineChoiceModel",
    "calibration_error",
    "examination_probabilities",
]

MAX_SUBSETS = 4096
FORMAT = "assortopt-online/1"  # the sidecar file form (`OnlineChoiceModel.to_dict`)
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

    def resolved_mode(self, mode: str, max_subsets: int = MAX_SUBSETS) -> str:
        """``"exact"`` or ``"mc"``: what ``mode`` (``"auto"``, ``"exact"``, ``"mc"``) runs as."""
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
        mask = np.ones(self.n, bool) if offered is None else offered_mask(self, offered)  # type: ignore[arg-type]
        scen = self._scenarios(self.resolved_mode(mode, max_subsets), samples, seed)
        return self._evaluate(mask.astype(np.float64), scen, pairs=False)[0]

    def probabilities(self, offered: Any) -> np.ndarray:
        """P(j | S) for a batch of offer sets (the `ChoiceModel` protocol): B×(N+1), column N
        is no purchase. Exact when `exact_feasible`, else Monte Carlo over the default 200,000
        (q, C) draws of seed 0, every set on the same draws (use `choice_probabilities` to
        choose the mode, samples and seed)."""
        sets = offer_matrix(offered, self.ids)
        scen = self._scenarios(self.resolved_mode("auto"), 200_000, 0)
        out = np.zeros((sets.shape[0], self.n + 1))
        for b, s in enumerate(sets):
            big_p, p0, _ = self._evaluate(s.astype(np.float64), scen, pairs=False)
            out[b, : self.n] = big_p
            out[b, self.n] = p0
        return out

    def aligned(self, ids: Any) -> OnlineChoiceModel:
        """The `ChoiceModel` name of `aligned_to`."""
        return self.aligned_to(tuple(ids))

    def to_dict(self) -> dict[str, Any]:
        """The model's file form (``assortopt-online/1``, read by `assortopt.choice.online_io`):
        products with weights, queries with result lists."""
        model = self
        lengths = np.diff(model.offsets)
        width = int(lengths.max()) if lengths.size else 0
        out: dict[str, Any] = {
            "format": FORMAT,
            "no_purchase_weight": model.v0,
            "examination": model.e[:width].tolist() if width else model.e.tolist(),
            "products": [
                {"id": pid, "weight": x} for pid, x in zip(model.ids, model.v.tolist(), strict=True)
            ],
            "queries": [
                {"weight": wq, "results": [model.ids[i] for i in model.items[a:b].tolist()]}
                for wq, a, b in zip(
                    model.w.tolist(),
                    model.offsets[:-1].tolist(),
                    model.offsets[1:].tolist(),
                    strict=True,
                )
            ],
        }
        if model.metadata:
            out["metadata"] = model.metadata
        return out

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
        ``rows_rescaled``, ``max_row_sum``.
        """
        mode = self.resolved_mode(mode, max_subsets)
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
        n_blocks = -(-total // _SAMPLE_CHUNK)
        seeds = child_seeds(seed, n_blocks)
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

    # ------------------------------------------------------------------ variants
    def with_no_purchase_share(
        self,
        share: float,
        mode: str = "auto",
        samples: int = 200_000,
        seed: Any = 0,
        max_subsets: int = MAX_SUBSETS,
    ) -> OnlineChoiceModel:
        """The same model with v0 solved so that P(no purchase | everything offered) = ``share``.

        P0 rises monotonically with v0, so Brent's method on log v0 ∈ [−30, 30] finds it; in
        Monte Carlo mode every trial v0 is evaluated on the same (q, C) draws from ``seed``.
        """
        scen = self._scenarios(self.resolved_mode(mode, max_subsets), samples, seed)

        def gap(log_v0: float) -> float:
            m = OnlineChoiceModel(
                self.ids, self.offsets, self.items, self.w, self.e, self.v, float(np.exp(log_v0))
            )
            return m._evaluate(np.ones(self.n), scen, pairs=False)[1] - share

        v0 = float(np.exp(brentq(gap, -30.0, 30.0, xtol=1e-12, rtol=1e-14)))
        return OnlineChoiceModel(
            self.ids, self.offsets, self.items, self.w, self.e, self.v, v0, dict(self.metadata)
        )

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


def _draw(rng: np.random.Generator, w: np.ndarray, size: int) -> np.ndarray:
    cw = np.cumsum(w)
    return np.minimum(np.searchsorted(cw, rng.random(size) * cw[-1], side="right"), w.size - 1)


def _jsonable_seed(seed: Any) -> Any:
    return int(seed) if isinstance(seed, int | np.integer) else str(seed)


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
    m = model.aligned_to(instance.ids)
    rng = as_generator(seed)
    mode = m.resolved_mode(mode)
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
