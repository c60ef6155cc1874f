"""Sales records for fitting a Markov chain: three input forms, one grouped object.

A visit is (offer set S, choice j), j = no purchase allowed. Everything a fit needs depends on the
visits only through the counts per (offer set, choice), so every reader returns a `SalesData`:
the distinct offer sets, stored by their *unavailable* products (few when stock-outs are few) in
CSR arrays, and per offer set the distinct choices with their counts. Groups are sorted by their
unavailable set and choices by product position, so the same visits give the same object
whichever file form they came in (see ``models/fit.md``).

Input forms (``read_sales``): a sessions CSV (``available``, ``bought``, optional ``count``,
``period``), a periods CSV (``period``, ``product``, ``available``, ``sold``, optional
``visits``) and a python_choice_models transaction JSON. Bad input raises `InstanceError` naming
the file, the row and the column.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InstanceError
from ..jsonio import read_json

__all__ = ["SalesData", "read_sales", "read_support", "group_visits"]


@dataclass(frozen=True, eq=False)
class SalesData:
    """Visits grouped by offer set.

    Attributes
    ----------
    ids
        Product ids; product ``i`` is ``ids[i]``.
    out_indptr, out_indices
        CSR rows: group ``g``'s unavailable products are
        ``out_indices[out_indptr[g]:out_indptr[g+1]]`` (sorted). Every other product is offered.
    ch_indptr, ch_product, ch_count
        Group ``g``'s distinct choices ``ch_product[ch_indptr[g]:ch_indptr[g+1]]`` (position, or N
        for no purchase; sorted) and how many visits made each (float, > 0).
    has_no_purchase
        False when the source records sales only (no visit without a purchase is known).
    source
        File the data came from (for messages).
    """

    ids: tuple[str, ...]
    out_indptr: np.ndarray
    out_indices: np.ndarray
    ch_indptr: np.ndarray
    ch_product: np.ndarray
    ch_count: np.ndarray
    has_no_purchase: bool = True
    source: str | None = None

    @property
    def n(self) -> int:
        """Number of products N."""
        return len(self.ids)

    @property
    def n_groups(self) -> int:
        """Number of distinct offer sets."""
        return len(self.out_indptr) - 1

    @property
    def n_visits(self) -> float:
        """Total number of visits."""
        return float(self.ch_count.sum())

    def group_sizes(self) -> np.ndarray:
        """Visits per offer set."""
        g = np.repeat(np.arange(self.n_groups), np.diff(self.ch_indptr))
        return np.bincount(g, weights=self.ch_count, minlength=self.n_groups)

    def sales(self) -> np.ndarray:
        """Visits per choice, length N + 1 (the last entry: no purchase)."""
        return np.bincount(self.ch_product, weights=self.ch_count, minlength=self.n + 1)

    def ever_unavailable(self) -> np.ndarray:
        """Bool mask: products that were unavailable in at least one visit."""
        m = np.zeros(self.n, dtype=bool)
        m[self.out_indices] = True
        return m

    def offered(self, g: int) -> np.ndarray:
        """Bool mask of group ``g``'s offer set."""
        m = np.ones(self.n, dtype=bool)
        m[self.out_indices[self.out_indptr[g] : self.out_indptr[g + 1]]] = False
        return m

    def with_counts(self, counts: np.ndarray) -> SalesData:
        """The same groups and choices with other counts (cells with count 0 are dropped)."""
        return group_visits(
            self.ids,
            [
                self.out_indices[self.out_indptr[g] : self.out_indptr[g + 1]]
                for g in range(self.n_groups)
            ],
            np.repeat(np.arange(self.n_groups), np.diff(self.ch_indptr)),
            self.ch_product,
            counts,
            has_no_purchase=self.has_no_purchase,
            source=self.source,
        )

    def split(self, fraction: float, seed: int) -> tuple[SalesData, SalesData]:
        """Hold out each visit with probability ``fraction`` (binomial per cell, seeded):
        ``(fit part, held-out part)``. Counts must be whole numbers."""
        rng = np.random.default_rng(seed)
        c = np.round(self.ch_count).astype(np.int64)
        held = rng.binomial(c, fraction).astype(np.float64)
        return self.with_counts(c - held), self.with_counts(held)


def group_visits(
    ids: Any,
    out_sets: list[np.ndarray],
    cell_group: np.ndarray,
    cell_product: np.ndarray,
    cell_count: np.ndarray,
    has_no_purchase: bool = True,
    source: str | None = None,
) -> SalesData:
    """Build a canonical `SalesData` from cells (group index, choice, count).

    ``out_sets[g]`` lists group g's unavailable positions; groups with the same set are merged,
    cells with the same (set, choice) summed, zero cells dropped; groups are sorted by their
    unavailable set, choices by position.
    """
    ids = tuple(ids)
    keys = [tuple(sorted(int(i) for i in s)) for s in out_sets]
    uniq = sorted(set(keys), key=lambda t: (len(t), t))
    gid = {k: i for i, k in enumerate(uniq)}
    remap = np.array([gid[k] for k in keys], dtype=np.int64)
    cg = remap[np.asarray(cell_group, dtype=np.int64)] if len(cell_group) else np.zeros(0, np.int64)
    cp = np.asarray(cell_product, dtype=np.int64)
    cc = np.asarray(cell_count, dtype=np.float64)
    n1 = len(ids) + 1
    key = cg * n1 + cp
    ukey, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv, weights=cc, minlength=len(ukey))
    keep = cnt > 0
    ukey, cnt = ukey[keep], cnt[keep]
    ug, up = ukey // n1, ukey % n1
    used = np.unique(ug)  # groups left with at least one visit
    newg = np.full(len(uniq), -1, dtype=np.int64)
    newg[used] = np.arange(len(used))
    ug = newg[ug]
    ch_indptr = np.zeros(len(used) + 1, dtype=np.int64)
    np.add.at(ch_indptr, ug + 1, 1)
    ch_indptr = np.cumsum(ch_indptr)
    sets = [uniq[g] for g in used.tolist()]
    out_indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    out_indptr[1:] = np.cumsum([len(s) for s in sets])
    out_indices = np.array([i for s in sets for i in s], dtype=np.int64)
    return SalesData(
        ids, out_indptr, out_indices, ch_indptr, up, cnt, bool(has_no_purchase), source
    )


# ----------------------------------------------------------------------------- readers
def _fail(source: str, row: int | None, col: str | None, msg: str) -> InstanceError:
    where = ", ".join(x for x in (f"row {row}" if row else "", f"column {col}" if col else "") if x)
    return InstanceError(where, msg, source)


def _open_csv(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InstanceError("", "no such file", source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError("", f"cannot read file: {exc}", source) from None
    if not rows:
        raise InstanceError("", "empty file (no header row)", source)
    header = [c.strip() for c in rows[0]]
    return header, rows[1:]


def _number(text: str, source: str, row: int, col: str, integer: bool = False) -> float:
    try:
        x = float(text)
    except ValueError:
        raise _fail(source, row, col, f"not a number: {text!r}") from None
    if not np.isfinite(x):
        raise _fail(source, row, col, f"must be finite, got {text!r}")
    if integer and x != round(x):
        raise _fail(source, row, col, f"must be a whole number, got {text!r}")
    return x


class _Index:
    """Product id → position; a fixed catalogue, or ids added in order of appearance."""

    def __init__(self, ids: Any, source: str, catalogue: str | None) -> None:
        self.fixed = ids is not None
        self.ids: list[str] = list(ids) if ids is not None else []
        self.pos = {p: i for i, p in enumerate(self.ids)}
        self.source, self.catalogue = source, catalogue

    def __call__(self, pid: str, row: int, col: str) -> int:
        k = self.pos.get(pid)
        if k is not None:
            return k
        if not pid:
            raise _fail(self.source, row, col, "empty product id")
        if self.fixed:
            where = f" {self.catalogue}" if self.catalogue else ""
            raise _fail(
                self.source, row, col, f"unknown product {pid!r} (not in the catalogue{where})"
            )
        self.pos[pid] = len(self.ids)
        self.ids.append(pid)
        return self.pos[pid]


def _read_sessions(
    source: str, header: list[str], rows: list[list[str]], index: _Index
) -> SalesData:
    col = {c: k for k, c in enumerate(header)}
    for c in header:
        if c not in ("available", "bought", "count", "period"):
            raise _fail(source, 1, c, "unknown column (sessions: available, bought, count, period)")
    if "bought" not in col:
        raise _fail(source, 1, "bought", "missing column")
    sets: dict[tuple[int, ...], int] = {}
    out_sets: list[list[int]] = []
    cells: dict[tuple[int, int], float] = defaultdict(float)
    parsed: list[tuple[int, frozenset[int], str, float]] = []
    for r, raw in enumerate(rows, start=2):
        if not any(x.strip() for x in raw):
            continue
        if len(raw) != len(header):
            raise _fail(source, r, None, f"expected {len(header)} fields, got {len(raw)}")
        items = [x.strip() for x in raw[col["available"]].split(";")]
        avail = frozenset(index(p, r, "available") for p in items if p)
        bought = raw[col["bought"]].strip()
        count = 1.0
        if "count" in col:
            count = _number(raw[col["count"]].strip(), source, r, "count", integer=True)
            if count < 0:
                raise _fail(source, r, "count", f"must be >= 0, got {raw[col['count']].strip()}")
        parsed.append((r, avail, bought, count))
    n = len(index.ids)
    for r, avail, bought, count in parsed:
        if bought:
            j = index(bought, r, "bought")
            if j not in avail:
                raise _fail(source, r, "bought", f"{bought!r} is not in this row's available list")
        else:
            j = n
        key = _complement(avail, n)
        g = sets.get(key)
        if g is None:
            g = sets[key] = len(out_sets)
            out_sets.append(list(key))
        cells[(g, j)] += count
    has_np = any(j == n for (_, j) in cells)
    return _finish(index, out_sets, cells, has_np, source)


def _complement(avail: frozenset[int], n: int) -> tuple[int, ...]:
    m = np.ones(n, dtype=bool)
    if avail:
        m[np.fromiter(avail, dtype=np.int64)] = False
    return tuple(np.flatnonzero(m).tolist())


def _finish(
    index: _Index,
    out_sets: list[Any],
    cells: dict[tuple[int, int], float],
    has_np: bool,
    source: str,
) -> SalesData:
    n = len(index.ids)
    keys = list(cells)
    g = np.array([k[0] for k in keys], dtype=np.int64)
    j = np.array([k[1] for k in keys], dtype=np.int64)
    j[j < 0] = n  # no purchase
    c = np.array([cells[k] for k in keys], dtype=np.float64)
    sales = np.bincount(j, weights=c, minlength=n + 1)
    if sales[:n].sum() <= 0:
        raise InstanceError("", "no purchase of any product in the data", source)
    return group_visits(index.ids, [np.asarray(s) for s in out_sets], g, j, c, has_np, source)


def _read_periods(
    source: str,
    header: list[str],
    rows: list[list[str]],
    index: _Index,
    visits_file: str | os.PathLike[str] | None = None,
) -> SalesData:
    col = {c: k for k, c in enumerate(header)}
    if visits_file is not None and "visits" in col:
        raise _fail(
            source, 1, "visits", f"visits are given both here and in {visits_file}: keep one"
        )
    for c in ("period", "product", "available", "sold"):
        if c not in col:
            raise _fail(source, 1, c, "missing column (periods: period, product, available, sold)")
    for c in header:
        if c not in ("period", "product", "available", "sold", "visits"):
            raise _fail(
                source, 1, c, "unknown column (periods: period, product, available, sold, visits)"
            )
    has_visits = "visits" in col or visits_file is not None
    periods: dict[str, dict[str, Any]] = {}
    for r, raw in enumerate(rows, start=2):
        if not any(x.strip() for x in raw):
            continue
        if len(raw) != len(header):
            raise _fail(source, r, None, f"expected {len(header)} fields, got {len(raw)}")
        cell = {c: raw[k].strip() for c, k in col.items()}
        per = periods.setdefault(
            cell["period"], {"avail": set(), "sold": {}, "visits": None, "row": r, "seen": set()}
        )
        i = index(cell["product"], r, "product")
        if i in per["seen"]:
            raise _fail(
                source, r, "product", f"{cell['product']!r} repeated in period {cell['period']!r}"
            )
        per["seen"].add(i)
        a = _number(cell["available"], source, r, "available")
        if a < 0:
            raise _fail(source, r, "available", f"must be >= 0, got {cell['available']}")
        s = _number(cell["sold"], source, r, "sold", integer=True)
        if s < 0:
            raise _fail(source, r, "sold", f"must be >= 0, got {cell['sold']}")
        if s > 0 and a <= 0:
            raise _fail(
                source, r, "sold", f"{cell['product']!r} sold {cell['sold']} while not available"
            )
        if a > 0:
            per["avail"].add(i)
        if s > 0:
            per["sold"][i] = s
        if "visits" in col and cell["visits"] != "":
            v = _number(cell["visits"], source, r, "visits", integer=True)
            if v < 0:
                raise _fail(source, r, "visits", f"must be >= 0, got {cell['visits']}")
            if per["visits"] is not None and per["visits"] != v:
                raise _fail(
                    source, r, "visits", f"differs from an earlier row of period {cell['period']!r}"
                )
            per["visits"] = v
            per["vrow"] = r
    if visits_file is not None:
        _merge_visits_file(visits_file, periods)
    vsource = source if visits_file is None else str(visits_file)  # the file giving visits
    n = len(index.ids)
    out_sets: list[Any] = []
    cells: dict[tuple[int, int], float] = defaultdict(float)
    any_np = False
    for name, per in periods.items():
        g = len(out_sets)
        out_sets.append(_complement(frozenset(per["avail"]), n))
        for i, s in per["sold"].items():
            cells[(g, i)] += s
        if has_visits:
            if per["visits"] is None:
                raise _fail(vsource, per["row"], "visits", f"no visits given for period {name!r}")
            rest = per["visits"] - sum(per["sold"].values())
            if rest < 0:
                raise _fail(
                    vsource, per["vrow"], "visits", f"fewer visits than sales in period {name!r}"
                )
            if rest > 0:
                cells[(g, -1)] += rest
            any_np = True
    return _finish(index, out_sets, cells, any_np, source)


def _read_pcm(path: str, index: _Index) -> tuple[SalesData, SalesData | None]:
    d = read_json(path)
    if not isinstance(d, dict) or "transactions" not in d:
        raise InstanceError(
            "transactions", "missing (a python_choice_models transaction file)", path
        )
    prods = d.get("products")
    tr = d["transactions"]
    if isinstance(tr, list):
        tr = {"in_sample_transactions": tr}
    if not isinstance(tr, dict) or "in_sample_transactions" not in tr:
        raise InstanceError("transactions.in_sample_transactions", "missing", path)
    if prods is not None:
        if not isinstance(prods, list) or any(
            not isinstance(p, int) or isinstance(p, bool) for p in prods
        ):
            raise InstanceError("products", "must be a list of integers 0..N", path)
        for p in prods:
            if p != 0:
                index(str(p), 0, "products")
    out = []
    for part in ("in_sample_transactions", "out_of_sample_transactions"):
        if part not in tr:
            out.append(None)
            continue
        lst = tr[part]
        if not isinstance(lst, list):
            raise InstanceError(f"transactions.{part}", "must be a list", path)
        parsed = []
        for t, x in enumerate(lst):
            field = f"transactions.{part}[{t}]"
            if not isinstance(x, dict) or "product" not in x or "offered_products" not in x:
                raise InstanceError(field, "needs product and offered_products", path)
            k, offered = x["product"], x["offered_products"]
            if not isinstance(k, int) or isinstance(k, bool) or k < 0:
                raise InstanceError(f"{field}.product", f"must be an integer >= 0, got {k!r}", path)
            if not isinstance(offered, list):
                raise InstanceError(f"{field}.offered_products", "must be a list", path)
            av = set()
            for p in offered:
                if not isinstance(p, int) or isinstance(p, bool) or p < 0:
                    raise InstanceError(f"{field}.offered_products", f"bad product {p!r}", path)
                if p != 0:
                    av.add(_pcm_index(index, p, path, f"{field}.offered_products"))
            if k != 0:
                j = _pcm_index(index, k, path, f"{field}.product")
                if j not in av:
                    raise InstanceError(f"{field}.product", f"{k} is not offered", path)
            else:
                j = -1
            parsed.append((frozenset(av), j))
        out.append(parsed)
    n = len(index.ids)
    res: list[SalesData | None] = []
    for parsed in out:
        if parsed is None:
            res.append(None)
            continue
        sets: dict[frozenset[int], int] = {}
        out_sets: list[Any] = []
        cells: dict[tuple[int, int], float] = defaultdict(float)
        for av, j in parsed:
            g = sets.get(av)
            if g is None:
                g = sets[av] = len(out_sets)
                out_sets.append(_complement(av, n))
            cells[(g, j)] += 1.0
        has_np = any(j < 0 for (_, j) in cells)
        res.append(_finish(index, out_sets, cells, has_np, path))
    return res[0], res[1]  # type: ignore[return-value]


def _pcm_index(index: _Index, p: int, path: str, field: str) -> int:
    k = index.pos.get(str(p))
    if k is None:
        if index.fixed:
            raise InstanceError(field, f"unknown product {p} (not in the catalogue)", path)
        return index(str(p), 0, field)
    return k


def _merge_visits_file(path: str | os.PathLike[str], periods: dict[str, dict[str, Any]]) -> None:
    """Visits per period from a second CSV (columns ``period, visits``, one row per period):
    set ``periods[name]["visits"]`` and the row naming it. Every period of the periods file
    needs one row, and every row a period of the periods file."""
    source = str(path)
    header, rows = _open_csv(path)
    col = {c: k for k, c in enumerate(header)}
    for c in ("period", "visits"):
        if c not in col:
            raise _fail(source, 1, c, "missing column (visits file: period, visits)")
    for c in header:
        if c not in ("period", "visits"):
            raise _fail(source, 1, c, "unknown column (visits file: period, visits)")
    for r, raw in enumerate(rows, start=2):
        if not any(x.strip() for x in raw):
            continue
        if len(raw) != len(header):
            raise _fail(source, r, None, f"expected {len(header)} fields, got {len(raw)}")
        name, text = raw[col["period"]].strip(), raw[col["visits"]].strip()
        if name not in periods:
            raise _fail(source, r, "period", f"unknown period {name!r} (not in the periods file)")
        per = periods[name]
        if per["visits"] is not None:
            raise _fail(source, r, "period", f"period {name!r} repeated")
        v = _number(text, source, r, "visits", integer=True)
        if v < 0:
            raise _fail(source, r, "visits", f"must be >= 0, got {text}")
        per["visits"], per["vrow"] = v, r
    for per in periods.values():
        per["row"] = None  # "no visits given" then names the visits file, no row


def read_support(path: str | os.PathLike[str], ids: Any) -> Any:
    """A user support for ρ from a CSV with columns ``from, to`` (one allowed transition per
    row, product ids of ``ids``): a 0/1 ``scipy.sparse`` N×N matrix for ``choose_support``.
    Raises `InstanceError` naming file, row and column (unknown product, from = to, ...)."""
    import scipy.sparse as sp

    source = str(path)
    header, rows = _open_csv(path)
    col = {c: k for k, c in enumerate(header)}
    for c in ("from", "to"):
        if c not in col:
            raise _fail(source, 1, c, "missing column (support: from, to)")
    for c in header:
        if c not in ("from", "to"):
            raise _fail(source, 1, c, "unknown column (support: from, to)")
    index = _Index(ids, source, None)
    fr, to = [], []
    for r, raw in enumerate(rows, start=2):
        if not any(x.strip() for x in raw):
            continue
        if len(raw) != len(header):
            raise _fail(source, r, None, f"expected {len(header)} fields, got {len(raw)}")
        i = index(raw[col["from"]].strip(), r, "from")
        j = index(raw[col["to"]].strip(), r, "to")
        if i == j:
            raise _fail(source, r, "to", f"a product cannot substitute itself ({ids[i]!r})")
        fr.append(i)
        to.append(j)
    n = len(index.ids)
    pat = sp.csr_array((np.ones(len(fr)), (fr, to)), shape=(n, n))
    pat.data[:] = 1.0  # a pair given twice counts once
    return pat


def read_sales(
    path: str | os.PathLike[str],
    ids: Any = None,
    catalogue: str | None = None,
    visits_file: str | os.PathLike[str] | None = None,
) -> tuple[SalesData, SalesData | None]:
    """Read sales records: ``(data, held-out data or None)``.

    The form is chosen by extension (``.json``: python_choice_models transactions; its
    ``out_of_sample_transactions`` become the held-out data) and, for CSV, by the header
    (``available`` + ``bought``: sessions; ``period`` + ``product`` + ``sold``: periods). ``ids``
    (e.g. the catalogue's) fixes the products and their order; without it products are numbered
    in order of appearance (python_choice_models: ``"1"``, ``"2"``, …). ``visits_file``: a
    periods file's visits in a second CSV (``period, visits``), instead of a ``visits`` column.

    Raises
    ------
    InstanceError
        One line naming the file, row and column: unknown product, bought product not available,
        negative count, sold while unavailable, visits below sales, no purchase at all, …
    """
    source = str(path)
    index = _Index(ids, source, catalogue)
    if Path(path).suffix.lower() == ".json":
        if visits_file is not None:
            raise _fail(str(visits_file), None, None, "a visits file goes with a periods CSV")
        return _read_pcm(source, index)
    header, rows = _open_csv(path)
    if "bought" in header or "available" in header and "product" not in header:
        if "available" not in header:
            raise _fail(source, 1, "available", "missing column (sessions: available, bought)")
        if visits_file is not None:
            raise _fail(str(visits_file), None, None, "a visits file goes with a periods CSV")
        return _read_sessions(source, header, rows, index), None
    if "product" in header and "sold" in header:
        return _read_periods(source, header, rows, index, visits_file), None
    raise _fail(
        source,
        1,
        None,
        "header is neither a sessions file (available, bought) nor a periods file "
        "(period, product, available, sold)",
    )


# ----------------------------------------------------------------------------- writers
def _cells(data: SalesData):
    for g in range(data.n_groups):
        avail = np.flatnonzero(data.offered(g))
        for e in range(data.ch_indptr[g], data.ch_indptr[g + 1]):
            yield g, avail, int(data.ch_product[e]), float(data.ch_count[e])


def write_sessions_csv(data: SalesData, path: str | os.PathLike[str], expand: bool = False) -> None:
    """Write ``data`` as a sessions CSV: one row per (offer set, choice) with its ``count``
    (``expand``: one row per visit, no count column). Counts must be whole numbers."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["available", "bought"] if expand else ["available", "bought", "count"])
        for _, avail, j, c in _cells(data):
            av = ";".join(data.ids[i] for i in avail)
            b = data.ids[j] if j < data.n else ""
            if expand:
                w.writerows([[av, b]] * int(round(c)))
            else:
                w.writerow([av, b, int(round(c))])


def write_periods_csv(data: SalesData, path: str | os.PathLike[str]) -> None:
    """Write ``data`` as a periods CSV, one period per offer set, with a ``visits`` column."""
    sizes = data.group_sizes()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["period", "product", "available", "sold", "visits"])
        for g in range(data.n_groups):
            off = data.offered(g)
            sold = np.zeros(data.n)
            sl = slice(data.ch_indptr[g], data.ch_indptr[g + 1])
            buy = data.ch_product[sl] < data.n
            sold[data.ch_product[sl][buy]] = data.ch_count[sl][buy]
            for i in range(data.n):
                w.writerow(
                    [f"d{g}", data.ids[i], int(off[i]), int(round(sold[i])), int(round(sizes[g]))]
                )


def pcm_transactions(data: SalesData) -> list[dict[str, Any]]:
    """python_choice_models transactions (product k+1 is position k; 0 = no purchase)."""
    out = []
    for _, avail, j, c in _cells(data):
        t = {
            "offered_products": [0] + [int(i) + 1 for i in avail],
            "product": j + 1 if j < data.n else 0,
        }
        out.extend([t] * int(round(c)))
    return out
