"""Benchmark configurations: a TOML file describing a grid of instances crossed with methods.

A configuration has three parts (``benchmarks/README.md`` shows full examples)::

    [bench]                      # optional; everything has a default
    name = "smoke"
    eval_reps = 2000             # out-of-sample seasons per cell (the same for every plan)
    eval_seed = 1000000          # evaluation seed = eval_seed + instance seed
    reference = "heuristic"      # paired differences are also reported against this method
    scenarios = 100              # default K of every method
    time_limit = 60.0            # default solver time limit (seconds) of every method
    mip_gap = 1e-4

    [[grid]]                     # one or more; each is a full cross product
    family = ["sparse", "mnl"]
    n_products = [10, 50]
    customers = [100, 1000]      # or customers_ratio = [0.5, 1.0]  (T = round(ratio * N))
    tail = ["zipf:1.0", "pareto:1.5"]   # kind or kind:parameter (zipf alpha, pareto shape,
                                        # lognormal sigma)
    margin = ["medium"]          # low | medium | high | a cost/price ratio
    seeds = [0, 1, 2]            # or an int n for range(n)
    eval_reps = 1000             # optional: overrides [bench] for this grid's cells
    params = {no_purchase = 0.3} # further generator parameters for every family of the grid
    family_params = {sparse = {k = 8}}  # ... and for one family only
    vendors = [2, 4, 8]          # optional: products assigned to V vendors in each instance
    vendor_by = ["category", "random", "rank"]  # ... by category, at random or by demand rank
                                 # (default ["random"]; `assortopt.methods.waves.assign_vendors`,
                                 # seeded by the instance seed); one cell per (V, rule)

    [[method]]                   # one or more, run in this order in every cell
    name = "mip"                 # a registered method
    label = "mip"                # optional: the row's name (unique); default the name
    scenarios = 50               # optional: overrides [bench]
    time_limit = 30.0            # optional
    params = {formulation = "strong"}
    max_n = 10                   # optional limits: the method runs only in cells within them
    max_customers = 200
    families = ["mnl"]

A *cell* is one generated instance with every method whose limits admit it. Its key is stable: a
readable prefix plus a hash of everything that determines its rows (instance, methods, evaluation
settings), so a resumed sweep recognises finished cells and a changed configuration never reuses
stale rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import OptionError

__all__ = ["BenchConfig", "Cell", "GridSpec", "MethodSpec", "load_config", "parse_config"]

_TAIL_PARAM = {"zipf": "alpha", "pareto": "shape", "lognormal": "sigma"}
_MARGINS = ("low", "medium", "high")
_BENCH_KEYS = {
    "name",
    "eval_reps",
    "eval_seed",
    "reference",
    "scenarios",
    "time_limit",
    "mip_gap",
    "description",
}
_GRID_KEYS = {
    "family",
    "n_products",
    "customers",
    "customers_ratio",
    "tail",
    "margin",
    "seeds",
    "params",
    "family_params",
    "name",
    "eval_reps",
    "vendors",
    "vendor_by",
}
_VENDOR_RULES = ("category", "random", "rank")
_CATEGORY_FAMILIES = ("cluster",)  # generator families that label products with categories
_METHOD_KEYS = {
    "name",
    "label",
    "scenarios",
    "time_limit",
    "mip_gap",
    "params",
    "max_n",
    "min_n",
    "max_customers",
    "families",
}


@dataclass(frozen=True)
class MethodSpec:
    """One method of the sweep, with its options and the cells it may run in."""

    name: str
    label: str
    scenarios: int
    time_limit: float | None
    mip_gap: float
    params: dict[str, Any] = field(default_factory=dict)
    max_n: int | None = None
    min_n: int | None = None
    max_customers: int | None = None
    families: tuple[str, ...] | None = None

    def admits(self, family: str, n: int, t: float) -> bool:
        """Whether this method runs on an instance of ``family`` with N=n and T=t."""
        if self.max_n is not None and n > self.max_n:
            return False
        if self.min_n is not None and n < self.min_n:
            return False
        if self.max_customers is not None and t > self.max_customers:
            return False
        return self.families is None or family in self.families

    def options(self) -> dict[str, Any]:
        """What the row records as the method's options (JSON-ready)."""
        return {
            "scenarios": self.scenarios,
            "time_limit": self.time_limit,
            "mip_gap": self.mip_gap,
            "params": self.params,
        }


@dataclass(frozen=True)
class Cell:
    """One instance of the grid and the methods that run on it."""

    key: str
    index: int
    family: str
    n: int
    customers: int | float
    tail: str
    alpha: float
    margin: str
    seed: int
    params: dict[str, Any]
    methods: tuple[MethodSpec, ...]
    eval_reps: int
    eval_seed: int
    reference: str | None
    vendors: int | None = None
    vendor_by: str | None = None
    #: Rows kept from an earlier run of this cell (resume): ``(row, plan record or None)`` per
    #: method whose row is on disk; only the other methods are planned (`assortopt.bench.cell`).
    kept: tuple[tuple[dict[str, str], dict[str, Any] | None], ...] = field(
        default=(), compare=False, hash=False, repr=False
    )

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `assortopt.generators.generate` beyond family, N, T and seed."""
        kw: dict[str, Any] = dict(self.params)
        kw["tail"] = self.tail
        kw[_TAIL_PARAM[self.tail]] = self.alpha
        kw["margin"] = _margin_value(self.margin)
        return kw


@dataclass(frozen=True)
class GridSpec:
    """One ``[[grid]]`` table: lists whose cross product gives instances."""

    family: tuple[str, ...]
    n_products: tuple[int, ...]
    customers: tuple[int | float, ...] | None
    customers_ratio: tuple[float, ...] | None
    tail: tuple[tuple[str, float], ...]
    margin: tuple[str, ...]
    seeds: tuple[int, ...]
    params: dict[str, Any]
    family_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    name: str | None = None
    eval_reps: int | None = None
    vendors: tuple[int, ...] = ()
    vendor_by: tuple[str, ...] = ()

    def splits(self) -> list[tuple[int | None, str | None]]:
        """(V, rule) pairs of the vendor assignment, or [(None, None)] without one."""
        if not self.vendors:
            return [(None, None)]
        return [(v, by) for by in self.vendor_by for v in self.vendors]

    def params_for(self, family: str) -> dict[str, Any]:
        """Generator parameters of ``family`` in this grid (shared ones, then its own)."""
        return {**self.params, **self.family_params.get(family, {})}

    def instances(self) -> list[tuple[str, int, int | float, str, float, str, int]]:
        """(family, N, T, tail, alpha, margin, seed) tuples in a fixed order."""
        out = []
        for fam, n, (tail, alpha), margin in itertools.product(
            self.family, self.n_products, self.tail, self.margin
        ):
            ts = (
                self.customers
                if self.customers is not None
                else tuple(max(1, round(r * n)) for r in self.customers_ratio or ())
            )
            for t in ts:
                for s in self.seeds:
                    out.append((fam, n, t, tail, alpha, margin, s))
        return out


@dataclass(frozen=True)
class BenchConfig:
    """A parsed benchmark configuration (see the module docstring for the file format)."""

    name: str
    source: str
    text: str
    eval_reps: int
    eval_seed: int
    reference: str | None
    grids: tuple[GridSpec, ...]
    methods: tuple[MethodSpec, ...]
    description: str = ""

    def cells(self) -> list[Cell]:
        """Every cell in a fixed order (grids in file order, then the cross product order).

        The same instance listed by two grids appears once (the first grid's method set).
        """
        cells: list[Cell] = []
        seen: set[str] = set()
        for grid in self.grids:
            for (fam, n, t, tail, alpha, margin, seed), (nv, by) in itertools.product(
                grid.instances(), grid.splits()
            ):
                methods = tuple(m for m in self.methods if m.admits(fam, n, t))
                if not methods:
                    continue
                reps = grid.eval_reps or self.eval_reps
                ident = {
                    "family": fam,
                    "n": n,
                    "customers": t,
                    "tail": tail,
                    "alpha": alpha,
                    "margin": margin,
                    "seed": seed,
                    "params": grid.params_for(fam),
                    "methods": [asdict(m) for m in methods],
                    "eval_reps": reps,
                    "eval_seed": self.eval_seed,
                    "reference": self.reference,
                }
                if nv is not None:  # cells without vendors keep their keys
                    ident.update(vendors=nv, vendor_by=by)
                digest = hashlib.sha1(
                    json.dumps(ident, sort_keys=True, default=str).encode()
                ).hexdigest()[:10]
                split = "" if nv is None else f"-v{nv}{by}"
                key = f"{fam}-n{n}-t{t:g}-{tail}{alpha:g}-{margin}-s{seed}{split}-{digest}"
                if key in seen:
                    continue
                seen.add(key)
                ref = self.reference if any(m.label == self.reference for m in methods) else None
                cells.append(
                    Cell(
                        key=key,
                        index=len(cells),
                        family=fam,
                        n=n,
                        customers=t,
                        tail=tail,
                        alpha=alpha,
                        margin=margin,
                        seed=seed,
                        params=grid.params_for(fam),
                        methods=methods,
                        eval_reps=reps,
                        eval_seed=self.eval_seed + seed,
                        reference=ref,
                        vendors=nv,
                        vendor_by=by,
                    )
                )
        return cells

    @property
    def digest(self) -> str:
        """A hash of the cells this configuration defines (its identity for ``resume``)."""
        keys = "\n".join(c.key for c in self.cells())
        return hashlib.sha1(keys.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- parsing helpers
class _Where:
    """Builds ``FILE: KEY: message`` errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, msg: str) -> OptionError:
        return OptionError(f"{self.source}: {key}: {msg}")


def _check_keys(w: _Where, where: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise w.error(where, f"must be a table, got {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise w.error(
            f"{where}.{unknown[0]}" if where else unknown[0],
            f"unknown key (allowed: {', '.join(sorted(allowed))})",
        )
    return table


def _as_list(w: _Where, key: str, value: Any) -> list[Any]:
    vals = value if isinstance(value, list) else [value]
    if not vals:
        raise w.error(key, "must not be empty")
    return vals


def _int(w: _Where, key: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise w.error(key, f"must be an integer >= {lo}, got {v!r}")
    return v


def _pos_float(w: _Where, key: str, v: Any, allow_none: bool = False) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise w.error(key, f"must be a number > 0, got {v!r}")
    return float(v)


def _margin_value(m: str) -> str | float:
    return m if m in _MARGINS else float(m)


def _parse_tail(w: _Where, key: str, v: Any) -> tuple[str, float]:
    """``kind`` or ``kind:param``; a bare kind takes the generator's default parameter."""
    from ..generators import COMMON_DEFAULTS

    if not isinstance(v, str):
        raise w.error(key, f"must be a string such as 'zipf:1.0', got {v!r}")
    kind, _, param = v.partition(":")
    if kind not in _TAIL_PARAM:
        raise w.error(key, f"unknown tail {kind!r} (choose {', '.join(_TAIL_PARAM)})")
    if not param:
        return kind, float(COMMON_DEFAULTS[_TAIL_PARAM[kind]])
    try:
        x = float(param)
    except ValueError:
        raise w.error(key, f"tail parameter must be a number, got {param!r}") from None
    if not math.isfinite(x) or x < 0:
        raise w.error(key, f"tail parameter must be finite and >= 0, got {param!r}")
    return kind, x


def _parse_margin(w: _Where, key: str, v: Any) -> str:
    if isinstance(v, str) and v in _MARGINS:
        return v
    if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1:
        return f"{float(v):g}"
    raise w.error(key, f"must be low, medium, high or a cost/price ratio in [0, 1), got {v!r}")


def _parse_grid(w: _Where, i: int, table: Any) -> GridSpec:
    from ..generators import FAMILIES

    where = f"grid[{i}]"
    g = _check_keys(w, where, table, _GRID_KEYS)
    for req in ("family", "n_products"):
        if req not in g:
            raise w.error(f"{where}.{req}", "missing")
    fams = []
    for f in _as_list(w, f"{where}.family", g["family"]):
        if f in _truth_families():  # true random-utility models, planned on their chain
            fams.append(f)
            continue
        if f not in FAMILIES and f != "fitted":
            raise w.error(
                f"{where}.family", f"unknown family {f!r} (choose {', '.join(FAMILIES)}, fitted)"
            )
        fams.append(f)
    ns = tuple(
        _int(w, f"{where}.n_products", v, 1)
        for v in _as_list(w, f"{where}.n_products", g["n_products"])
    )
    if ("customers" in g) == ("customers_ratio" in g):
        raise w.error(f"{where}.customers", "give exactly one of customers and customers_ratio")
    customers = ratio = None
    if "customers" in g:
        customers = tuple(
            _pos_float(w, f"{where}.customers", v)
            for v in _as_list(w, f"{where}.customers", g["customers"])
        )
        customers = tuple(int(t) if float(t).is_integer() else t for t in customers)
    else:
        ratio = tuple(
            _pos_float(w, f"{where}.customers_ratio", v)
            for v in _as_list(w, f"{where}.customers_ratio", g["customers_ratio"])
        )
    tails = tuple(
        _parse_tail(w, f"{where}.tail", v)
        for v in _as_list(w, f"{where}.tail", g.get("tail", "zipf"))
    )
    margins = tuple(
        _parse_margin(w, f"{where}.margin", v)
        for v in _as_list(w, f"{where}.margin", g.get("margin", "medium"))
    )
    seeds_v = g.get("seeds", 1)
    if isinstance(seeds_v, int) and not isinstance(seeds_v, bool):
        seeds = tuple(range(_int(w, f"{where}.seeds", seeds_v, 1)))
    else:
        seeds = tuple(
            _int(w, f"{where}.seeds", v, 0) for v in _as_list(w, f"{where}.seeds", seeds_v)
        )
    params = _generator_params(w, f"{where}.params", g.get("params", {}), fams)
    fp_raw = g.get("family_params", {})
    if not isinstance(fp_raw, dict):
        raise w.error(f"{where}.family_params", "must be a table of family = {parameters}")
    fam_params = {}
    for fam, table in fp_raw.items():
        if fam not in fams:
            raise w.error(f"{where}.family_params.{fam}", "not a family of this grid")
        fam_params[fam] = _generator_params(w, f"{where}.family_params.{fam}", table, [fam])
    vendors, vendor_by = _parse_vendors(w, where, g, fams, ns)
    return GridSpec(
        family=tuple(fams),
        n_products=ns,
        customers=customers,
        customers_ratio=ratio,
        tail=tails,
        margin=margins,
        seeds=seeds,
        params=params,
        family_params=fam_params,
        name=g.get("name"),
        eval_reps=None
        if "eval_reps" not in g
        else _int(w, f"{where}.eval_reps", g["eval_reps"], 2),
        vendors=vendors,
        vendor_by=vendor_by,
    )


def _parse_vendors(
    w: _Where, where: str, g: dict[str, Any], fams: list[str], ns: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``vendors`` (V >= 1, at most the smallest N) and ``vendor_by`` (needs ``vendors``;
    ``category`` only for families whose products carry categories)."""
    if "vendors" not in g:
        if "vendor_by" in g:
            raise w.error(f"{where}.vendor_by", "needs vendors (the numbers V of vendors)")
        return (), ()
    vs = []
    for v in _as_list(w, f"{where}.vendors", g["vendors"]):
        v = _int(w, f"{where}.vendors", v, 1)
        if v > min(ns):
            raise w.error(f"{where}.vendors", f"V = {v} exceeds the grid's N = {min(ns)}")
        if v in vs:
            raise w.error(f"{where}.vendors", f"V = {v} listed twice")
        vs.append(v)
    rules = []
    for by in _as_list(w, f"{where}.vendor_by", g.get("vendor_by", ["random"])):
        if by not in _VENDOR_RULES:
            raise w.error(
                f"{where}.vendor_by", f"unknown rule {by!r} (choose {', '.join(_VENDOR_RULES)})"
            )
        if by in rules:
            raise w.error(f"{where}.vendor_by", f"{by!r} listed twice")
        if by == "category":
            bad = [f for f in fams if f not in _CATEGORY_FAMILIES]
            if bad:
                raise w.error(
                    f"{where}.vendor_by",
                    f"category needs product categories; family {bad[0]!r} has none "
                    f"(families with categories: {', '.join(_CATEGORY_FAMILIES)})",
                )
        rules.append(by)
    return tuple(vs), tuple(rules)


def _truth_families() -> dict[str, dict[str, Any]]:
    from ..truth_families import TRUTH_FAMILIES

    return TRUTH_FAMILIES


def _generator_params(w: _Where, key: str, params: Any, families: list[str]) -> dict[str, Any]:
    """Check generator parameter names against every family they apply to."""
    from ..generators import COMMON_DEFAULTS, FAMILIES

    if not isinstance(params, dict):
        raise w.error(key, "must be a table of generator parameters")
    clash = sorted(set(params) & {"tail", "alpha", "shape", "sigma", "margin"})
    if clash:
        raise w.error(f"{key}.{clash[0]}", "set it with the grid's tail and margin lists")
    for fam in families:
        if fam == "online":
            from ..generators import ONLINE_DEFAULTS as own
        elif fam == "fitted":
            from ..fit.synthetic import FITTED_DEFAULTS as own
        elif fam in _truth_families():
            own = _truth_families()[fam]
        else:
            own = FAMILIES[fam][0]
        allowed = set(COMMON_DEFAULTS) | set(own)
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise w.error(
                f"{key}.{unknown[0]}",
                f"family {fam!r} does not take it (use family_params for one family)",
            )
    return dict(params)


def _parse_method(w: _Where, i: int, table: Any, defaults: dict[str, Any]) -> MethodSpec:
    from ..methods.base import METHODS, get_method

    where = f"method[{i}]"
    m = _check_keys(w, where, table, _METHOD_KEYS)
    name = m.get("name")
    if not isinstance(name, str):
        raise w.error(f"{where}.name", "missing (a registered method name)")
    try:
        get_method(name)
    except OptionError as e:
        raise w.error(f"{where}.name", str(e)) from None
    params = m.get("params", {})
    if not isinstance(params, dict):
        raise w.error(f"{where}.params", "must be a table of method options")
    accepted = getattr(METHODS[name], "accepted_params", None)
    if accepted is not None:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise w.error(
                f"{where}.params.{unknown[0]}",
                f"method {name!r} does not take it (it takes: {', '.join(accepted) or 'nothing'})",
            )
    checks = getattr(METHODS[name], "param_checks", None)
    if checks is not None:  # the same typed checks as --param, before the sweep starts
        from ..methods.params import check_params

        try:
            check_params(name, checks, params)
        except OptionError as e:
            raise w.error(f"{where}.params", str(e)) from None
    fams = m.get("families")
    if fams is not None:
        fams = tuple(_as_list(w, f"{where}.families", fams))
    gap = m.get("mip_gap", defaults["mip_gap"])
    if isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 <= gap < 1:
        raise w.error(f"{where}.mip_gap", f"must be in [0, 1), got {gap!r}")
    label = m.get("label", name)
    if not isinstance(label, str) or not label or "," in label:
        raise w.error(f"{where}.label", f"must be a non-empty string without commas, got {label!r}")
    tl = m.get("time_limit", defaults["time_limit"])
    return MethodSpec(
        name=name,
        label=label,
        scenarios=_int(w, f"{where}.scenarios", m.get("scenarios", defaults["scenarios"]), 1),
        time_limit=_pos_float(w, f"{where}.time_limit", tl, allow_none=True),
        mip_gap=float(gap),
        params=dict(params),
        max_n=None if "max_n" not in m else _int(w, f"{where}.max_n", m["max_n"], 1),
        min_n=None if "min_n" not in m else _int(w, f"{where}.min_n", m["min_n"], 1),
        max_customers=None
        if "max_customers" not in m
        else _int(w, f"{where}.max_customers", m["max_customers"], 1),
        families=fams,
    )


def parse_config(data: dict[str, Any], source: str = "<config>", text: str = "") -> BenchConfig:
    """Validate a configuration already read from TOML (``source`` names it in errors).

    Raises
    ------
    OptionError
        ``SOURCE: KEY: what is wrong`` for the first problem found.
    """
    w = _Where(source)
    top = _check_keys(w, "", data, {"bench", "grid", "method"})
    b = _check_keys(w, "bench", top.get("bench", {}), _BENCH_KEYS)
    defaults = {
        "scenarios": _int(w, "bench.scenarios", b.get("scenarios", 100), 1),
        "time_limit": _pos_float(w, "bench.time_limit", b.get("time_limit", 60.0), allow_none=True),
        "mip_gap": b.get("mip_gap", 1e-4),
    }
    grids_raw = top.get("grid")
    if not isinstance(grids_raw, list) or not grids_raw:
        raise w.error("grid", "missing: add at least one [[grid]] table")
    methods_raw = top.get("method")
    if not isinstance(methods_raw, list) or not methods_raw:
        raise w.error("method", "missing: add at least one [[method]] table")
    grids = tuple(_parse_grid(w, i, g) for i, g in enumerate(grids_raw))
    methods = tuple(_parse_method(w, i, m, defaults) for i, m in enumerate(methods_raw))
    labels = [m.label for m in methods]
    for i, lab in enumerate(labels):
        if lab in labels[:i]:
            raise w.error(
                f"method[{i}].label",
                f"duplicate label {lab!r}: give each variant of a method its own label",
            )
    ref = b.get("reference", "heuristic" if "heuristic" in labels else labels[0])
    if ref not in labels:
        raise w.error("bench.reference", f"{ref!r} is not a method label ({', '.join(labels)})")
    name = b.get("name", Path(source).stem if source != "<config>" else "bench")
    return BenchConfig(
        name=str(name),
        source=source,
        text=text,
        eval_reps=_int(w, "bench.eval_reps", b.get("eval_reps", 2000), 2),
        eval_seed=_int(w, "bench.eval_seed", b.get("eval_seed", 1_000_000), 0),
        reference=ref,
        grids=grids,
        methods=methods,
        description=str(b.get("description", "")),
    )


def load_config(path: str | os.PathLike[str]) -> BenchConfig:
    """Read and validate a benchmark TOML file.

    Raises
    ------
    OptionError
        Unreadable file, bad TOML, or a bad key (the message names the file and the key).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise OptionError(f"{p}: cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise OptionError(f"{p}: not valid TOML: {e}") from None
    return parse_config(data, source=str(p), text=text)
