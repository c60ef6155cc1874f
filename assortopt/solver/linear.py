"""Array-form linear programs: the form every builder emits and every HiGHS solve loads.

A builder assembles its LP/MIP as numpy/scipy arrays with `LPBuilder` (fast at any size); the
result is a `LinearProgram`, which `assortopt.solver.highs.solve_lp` hands to HiGHS in one
vectorised ``passModel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

INF = np.inf


@dataclass
class LinearProgram:
    """``sense c·x + offset`` s.t. ``row_lo ≤ A x ≤ row_hi``, ``col_lo ≤ x ≤ col_hi``."""

    c: np.ndarray
    A: sp.csr_array
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray | None = None
    sense: str = "max"
    offset: float = 0.0

    def __post_init__(self) -> None:
        self.A = sp.csr_array(self.A, dtype=np.float64)
        self.A.sum_duplicates()
        self.A.eliminate_zeros()
        for name in ("c", "row_lo", "row_hi", "col_lo", "col_hi"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float64))
        if self.integer is not None:
            self.integer = np.asarray(self.integer, dtype=bool)
        m, n = self.A.shape
        assert self.c.shape == (n,) and self.col_lo.shape == (n,) and self.col_hi.shape == (n,)
        assert self.row_lo.shape == (m,) and self.row_hi.shape == (m,)

    @property
    def n_cols(self) -> int:
        return self.A.shape[1]

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    @property
    def is_mip(self) -> bool:
        return self.integer is not None and bool(self.integer.any())

    def objective_value(self, x: np.ndarray) -> float:
        return float(self.c @ x + self.offset)

    def is_feasible(self, x: np.ndarray, tol: float = 1e-6) -> bool:
        """Whether ``x`` satisfies every row, bound and integrality (to ``tol``)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n_cols,):
            return False
        if np.any(x < self.col_lo - tol) or np.any(x > self.col_hi + tol):
            return False
        if self.integer is not None and np.any(
            np.abs(x[self.integer] - np.round(x[self.integer])) > tol
        ):
            return False
        ax = self.A @ x
        return bool(np.all(ax >= self.row_lo - tol) and np.all(ax <= self.row_hi + tol))


@dataclass
class VarBlock:
    """A named block of variables: ``cols[idx]`` is the column of entry ``idx`` (−1: absent).

    ``labels[a][i]`` names position i of axis a (product ids, scenario numbers, ...); the Pyomo
    variable of entry ``idx`` is indexed by those labels.
    """

    name: str
    cols: np.ndarray
    labels: tuple[Sequence[Any], ...]
    binary: bool = False
    integer: bool = False

    def values(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The block's values from a full column vector, shaped like ``cols``."""
        out = np.full(self.cols.shape, fill, dtype=np.float64)
        ok = self.cols >= 0
        out[ok] = x[self.cols[ok]]
        return out

    def key(self, idx: tuple[int, ...]) -> Any:
        lab = tuple(self.labels[a][i] for a, i in enumerate(idx))
        return lab[0] if len(lab) == 1 else lab


class LPBuilder:
    """Collects variable and row blocks as arrays, then emits a `LinearProgram`.

    Builders call ``add_vars`` once per named block (the block's ``cols`` array keeps its shape,
    ``-1`` where an entry does not exist) and ``add_rows`` with COO triplets per named row block.
    """

    def __init__(self, sense: str = "max") -> None:
        self.sense = sense
        self.n = 0
        self.m = 0
        self._c: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self.var_blocks: dict[str, VarBlock] = {}
        self.row_blocks: dict[str, tuple[int, int]] = {}
        self.offset = 0.0

    def add_vars(
        self,
        name: str,
        present: np.ndarray,
        labels: Sequence[Sequence[Any]],
        lo: float | np.ndarray = 0.0,
        hi: float | np.ndarray = INF,
        cost: float | np.ndarray = 0.0,
        integer: bool = False,
        binary: bool = False,
    ) -> np.ndarray:
        """Add one column per True entry of ``present``; return the block's column array."""
        present = np.asarray(present, dtype=bool)
        cols = np.full(present.shape, -1, dtype=np.int64)
        k = int(present.sum())
        cols[present] = np.arange(self.n, self.n + k)
        self.n += k
        if binary:
            lo, hi, integer = 0.0, 1.0, True
        for store, val in ((self._c, cost), (self._lo, lo), (self._hi, hi)):
            arr = np.broadcast_to(np.asarray(val, dtype=np.float64), present.shape)[present]
            store.append(np.array(arr, dtype=np.float64))
        self._int.append(np.full(k, integer, dtype=bool))
        self.var_blocks[name] = VarBlock(name, cols, tuple(labels), binary, integer)
        return cols

    def add_rows(
        self,
        name: str,
        n_rows: int,
        row: np.ndarray,
        col: np.ndarray,
        val: np.ndarray | float,
        lo: float | np.ndarray = -INF,
        hi: float | np.ndarray = INF,
    ) -> int:
        """Add ``n_rows`` rows from COO triplets (``row`` local to this block); return first row."""
        row = np.asarray(row, dtype=np.int64)
        col = np.asarray(col, dtype=np.int64)
        val = np.broadcast_to(np.asarray(val, dtype=np.float64), row.shape)
        if np.any(col < 0):
            raise ValueError(f"row block {name}: reference to a missing column")
        start = self.m
        self._rows.append((row + start, col, np.array(val)))
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n_rows,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n_rows,)).copy())
        self.m += n_rows
        self.row_blocks[name] = (start, self.m)
        return start

    def build(self) -> LinearProgram:
        cat = lambda xs, dt=np.float64: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
        if self._rows:
            r = np.concatenate([t[0] for t in self._rows])
            c = np.concatenate([t[1] for t in self._rows])
            v = np.concatenate([t[2] for t in self._rows])
        else:
            r = c = np.zeros(0, np.int64)
            v = np.zeros(0)
        A = sp.csr_array((v, (r, c)), shape=(self.m, self.n))
        integer = cat(self._int, bool)
        return LinearProgram(
            c=cat(self._c),
            A=A,
            row_lo=cat(self._rlo),
            row_hi=cat(self._rhi),
            col_lo=cat(self._lo),
            col_hi=cat(self._hi),
            integer=integer if integer.any() else None,
            sense=self.sense,
            offset=self.offset,
        )
