"""`Formulation`: the handle every builder returns.

A builder assembles its LP/MIP as arrays (`assortopt.solver.linear`) and wraps them in a
`Formulation`. The Pyomo ``ConcreteModel`` is made from the same arrays the first time a user
asks for ``formulation.model``; from then on the Pyomo model is the truth. Solving:

* model never materialised: arrays go straight into HiGHS (``path="fast"``);
* model materialised (perhaps with user constraints): Pyomo's linear standard-form compiler turns
  it into arrays for HiGHS (``path="standard-form"``); anything the compiler cannot carry
  (nonlinear terms, unknown components) falls back to Pyomo's own HiGHS interface
  (``path="pyomo"``), with a warning that says why.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import OptionError
from ..packaging import package
from ..plan import Plan
from ..solver.highs import SolveResult, SolverOptions, _write_model, highs_from_lp, solve_lp
from ..solver.linear import INF, LinearProgram, VarBlock
from ..solver.pyomo_bridge import CannotCompile, clean_value, compile_model, solve_pyomo
from ..solver.status import ERROR, FEASIBLE, HEURISTIC, INFEASIBLE, OPTIMAL, Termination

__all__ = ["Formulation", "VarBlock"]

log = logging.getLogger("assortopt.models")


@dataclass
class Formulation:
    """A built model: arrays for HiGHS, a lazily made Pyomo model, and the variable map.

    Attributes
    ----------
    name
        Which formulation (``"lp_bound"``, ``"saa_lp"``, ``"spill_mip"``, ``"sample_path_mip"``).
    lp
        The array form as built (columns in builder order).
    var_blocks
        Named variable blocks (``"stock"`` is always the first-stage stock per product).
    row_blocks
        Named row ranges of ``lp``.
    info
        Builder facts worth keeping (products considered, scenario count, notes).
    instance
        The `Instance` it was built from when made by `assortopt.models.build` (``plan``,
        ``solution`` use it; None when a builder was called directly: pass ``inst`` then).

    Typical use (see `assortopt.models.build`)::

        f = build("sample_path_mip", inst, scenarios=50, seed=0)
        q = f.var("stock")                                  # Pyomo Var indexed by product id
        f.model.total = pyo.Constraint(expr=sum(q[i] for i in q) <= 400)
        res = f.solve(SolverOptions(time_limit=60))         # honours the constraint
        plan = f.plan(res)                                  # Plan: integer stock per product
        sol = f.solution(res)                               # Solution: simulate + file
    """

    name: str
    lp: LinearProgram
    var_blocks: dict[str, VarBlock]
    row_blocks: dict[str, tuple[int, int]]
    info: dict[str, Any] = field(default_factory=dict)
    _model: Any = None
    _col_vars: list[Any] | None = None
    instance: Any = None

    # ------------------------------------------------------------------ Pyomo side
    @property
    def model(self) -> Any:
        """The Pyomo ``ConcreteModel`` (made on first access, then kept and used for solving).

        Variables are Pyomo ``Var`` components named after the blocks (``model.stock[id]``,
        ``model.sales[k, id]``, ...); rows are ``Constraint`` components named after the row
        blocks; ``model.objective`` is the objective. Add constraints freely: `solve` honours them.
        """
        if self._model is None:
            self._model, self._col_vars = _to_pyomo(self)
        return self._model

    @property
    def column_vars(self) -> list[Any]:
        """The Pyomo variable of each column of ``lp``, in column order (materialises the model)."""
        self.model  # noqa: B018
        return list(self._col_vars or [])

    @property
    def materialised(self) -> bool:
        """Whether the Pyomo model exists (then it, not ``lp``, is what `solve` solves)."""
        return self._model is not None

    def var(self, block: str) -> Any:
        """The Pyomo ``Var`` component of a block, indexed by the block's labels (product ids;
        ``(scenario, id)``; ...). Materialises the model, so later solves take the
        standard-form path. Raises ``AttributeError`` for an unknown block."""
        return getattr(self.model, block)

    # ------------------------------------------------------------------ solving
    def solve(
        self,
        options: SolverOptions | None = None,
        start: np.ndarray | None = None,
        path: str = "auto",
        write: str | None = None,
    ) -> SolveResult:
        """Solve with HiGHS and return a `SolveResult` whose ``x`` is in builder column order.

        ``path``: ``"auto"`` (fast arrays unless the Pyomo model was materialised, then the
        standard-form compiler, falling back to Pyomo's interface), ``"fast"``,
        ``"standard-form"`` or ``"pyomo"``. ``start`` is a full builder column vector.
        When the Pyomo model exists, the solution is also loaded into its variables.

        Raises
        ------
        ValueError
            ``path="fast"`` once the Pyomo model exists (it would ignore your additions), or
            an unknown ``path``.
        SolverError
            The model holds something HiGHS cannot solve (a nonlinear constraint, a quadratic
            objective on an integer model); the standard-form path warns first, then the
            Pyomo interface refuses.
        """
        options = options or SolverOptions()
        if path == "auto":
            path = "standard-form" if self.materialised else "fast"
        if path == "fast":
            if self.materialised:
                raise ValueError(
                    "path='fast' ignores the Pyomo model, which exists and may carry your own "
                    "constraints; use path='auto' or 'standard-form'"
                )
            return solve_lp(self.lp, options, start=start, write=write)
        self.model  # noqa: B018  (materialise)
        if path == "standard-form":
            try:
                return self._solve_standard_form(options, start, write)
            except CannotCompile as exc:
                warnings.warn(
                    f"the fast path cannot carry this model ({exc}); solving through Pyomo's "
                    "HiGHS interface instead",
                    stacklevel=2,
                )
        elif path != "pyomo":
            raise ValueError(f"unknown solve path {path!r}")
        return self._solve_pyomo(options, start, write)

    def _solve_standard_form(
        self, options: SolverOptions, start: np.ndarray | None, write: str | None
    ) -> SolveResult:
        lp2, columns = compile_model(self.model)
        start2 = None
        if start is not None:
            start2 = np.array([_start_value(v, start, self) for v in columns])
        res = solve_lp(lp2, options, start=start2, write=write)
        res.path = "standard-form"
        if res.x is not None:
            for v, val in zip(columns, res.x, strict=True):
                v.set_value(clean_value(v, val), skip_validation=True)
            res.x = self._x_from_model()
        return res

    def _solve_pyomo(
        self, options: SolverOptions, start: np.ndarray | None, write: str | None
    ) -> SolveResult:
        return solve_pyomo(
            self.model, self._col_vars or [], options, self.lp.is_mip, start=start, write=write
        )

    def _x_from_model(self) -> np.ndarray:
        vals = [v.value for v in (self._col_vars or [])]
        return np.array([0.0 if val is None else float(val) for val in vals])

    def write(self, path: str, options: SolverOptions | None = None) -> None:
        """Write the model (with any user additions) as ``.mps`` or ``.lp`` via HiGHS."""
        lp = compile_model(self.model)[0] if self.materialised else self.lp
        _write_model(highs_from_lp(lp, options or SolverOptions()), path)

    # ------------------------------------------------------------------ results
    def stock(self, x: np.ndarray, n_products: int) -> np.ndarray:
        """Integer stock per product (length N) from a column vector; rounds LP values down
        only after adding 1e-6, so 2.9999999 counts as 3. Committed products
        (``info["committed"]``) read as their committed units."""
        blk = self.var_blocks["stock"]
        q = np.zeros(n_products)
        prods = self.info.get("products", np.arange(n_products))
        q[np.asarray(prods)] = blk.values(x)
        out = np.floor(np.maximum(q, 0.0) + 1e-6).astype(np.int64)
        committed = self.info.get("committed")
        if committed is not None:  # fixed by assortopt.models.committed, perhaps at a cap
            out[committed >= 0] = committed[committed >= 0]
        return out

    def _n_products(self, inst: Any) -> tuple[Any, int]:
        inst = inst if inst is not None else self.instance
        if inst is None:
            raise OptionError(
                f"{self.name}: pass the instance (inst=...): this formulation was built without "
                "assortopt.models.build, so it does not know the number of products"
            )
        return inst, int(inst.n)

    def plan(self, result: SolveResult, inst: Any = None) -> Plan:
        """Turn a solve into a `Plan` (integer stock per product, length N) for `simulate`,
        `assortopt.api.Solution` and the solution file.

        ``stock`` is the ``"stock"`` block, rounded down after adding 1e-6 (products the
        builder left out get 0). ``objective``, ``bound`` and ``gap`` are the model's own
        (in-sample, profit per season, with any user terms), copied from ``result``. Status:
        the result's contract status (``optimal``/``feasible``/``infeasible``/``error``),
        except that a plan rounded down from fractional LP stock (``saa_lp``) is
        ``heuristic`` (rounding down keeps ``≤`` rows with nonnegative stock coefficients,
        such as a budget, but is not an optimum of anything). No incumbent: all-zero stock and
        the result's status and message. ``inst`` defaults to the formulation's `instance`.

        Raises
        ------
        OptionError
            The formulation has no ``"stock"`` block (``lp_bound``: the bound has no stock;
            use `assortopt.lp_bound` for its assortment), or no instance is known.
        """
        if "stock" not in self.var_blocks:
            raise OptionError(
                f"{self.name} has no stock variables, so it has no plan; use "
                "assortopt.lp_bound(inst) for the bound's assortment, or build 'saa_lp', "
                "'spill_mip' or 'sample_path_mip'"
            )
        inst, n = self._n_products(inst)
        extra: dict[str, Any] = {"formulation": self.name, "path": result.path}
        added = self.user_components()
        if added:
            extra["user_components"] = added
        if result.x is None:
            status = result.status if result.status in (INFEASIBLE, ERROR) else ERROR
            term = result.termination
            if status == INFEASIBLE:
                term = Termination.INFEASIBLE
            elif term in (Termination.OPTIMAL, Termination.GAP_LIMIT, Termination.INFEASIBLE):
                term = Termination.ERROR
            return Plan(
                np.zeros(n, np.int64),
                status=status,
                bound=result.bound,
                message=result.message or result.engine_status,
                extra=extra,
                termination=term,
            )
        stock = self.stock(result.x, n)
        status = result.status if result.status in (OPTIMAL, FEASIBLE) else FEASIBLE
        message = result.message
        q = self.var_blocks["stock"].values(result.x)
        if np.any(np.abs(q - np.round(q)) > 1e-6):
            status = HEURISTIC
            message = (message + "; " if message else "") + (
                "stock rounded down from the LP's fractional optimum (objective is the LP's)"
            )
        return Plan(
            stock,
            status=status,
            objective=result.objective,
            bound=result.bound,
            gap=result.gap,
            message=message,
            extra=extra,
            termination=result.termination,
        )

    def values(self, block: str, result: SolveResult | np.ndarray) -> Any:
        """A block's values in a solve, labelled: a pandas ``Series`` for a 1-D block (index:
        product ids, or ``(scenario, arrival, product)`` for the sample-path MIP's per-customer
        blocks), a ``DataFrame`` for a 2-D block (rows: scenarios, columns: product ids; for
        ``units``/``tail``: rows product ids, columns unit numbers). Entries the builder did
        not create are NaN. Units are the variable's own (units of stock, customers, 0/1).

        ``result`` is a `SolveResult` or a full builder column vector.

        Raises
        ------
        KeyError
            Unknown block (the message lists the blocks).
        ValueError
            The result has no incumbent.
        """
        import pandas as pd

        if block not in self.var_blocks:
            raise KeyError(f"{self.name} has no block {block!r}; blocks: {list(self.var_blocks)}")
        x = result.x if isinstance(result, SolveResult) else result
        if x is None:
            raise ValueError(f"no values: the solve has no incumbent ({result.status})")  # type: ignore[union-attr]
        blk = self.var_blocks[block]
        vals = blk.values(np.asarray(x, dtype=np.float64), fill=np.nan)
        if vals.ndim == 1:
            labels = list(blk.labels[0])
            if labels and isinstance(labels[0], tuple):
                index = pd.MultiIndex.from_tuples(labels, names=["scenario", "arrival", "product"])
            else:
                index = pd.Index(labels, name="product")
            return pd.Series(vals, index=index, name=block)
        rows, cols = _AXES.get(block, ("scenario", "product"))
        return pd.DataFrame(
            vals,
            index=pd.Index(list(blk.labels[0]), name=rows),
            columns=pd.Index(list(blk.labels[1]), name=cols),
        )

    def user_components(self) -> list[str]:
        """Names of the active Pyomo components a user added (empty if the model was never made);
        `plan` records them in ``extra["user_components"]``."""
        if self._model is None:
            return []
        import pyomo.environ as pyo

        own = set(self.var_blocks) | set(self.row_blocks) | {"objective"}
        out = []
        for c in self._model.component_objects((pyo.Var, pyo.Constraint, pyo.Objective)):
            if c.local_name not in own and (c.ctype is pyo.Var or c.active):
                out.append(c.local_name)
        if not self._model.objective.active:
            out.append("objective (deactivated)")
        return out

    def solution(
        self,
        result: SolveResult | Plan,
        inst: Any = None,
        *,
        method: str | None = None,
        eval_reps: int = 10000,
        eval_seed: int | None = None,
        bound: bool = True,
    ) -> Any:
        """Package a solve as an `assortopt.packaging.Solution` (what `assortopt.solve` returns):
        ``.to_dict()`` is the solution file (`assortopt.write_solution`), ``.evaluation`` an
        out-of-sample `simulate` of the plan (``eval_reps`` seasons from ``eval_seed``,
        default the build seed + 1, as `solve` does), ``.lp_bound`` the LP bound when
        ``bound``. ``method`` (default the formulation's name) is written as the file's
        ``method``; ``seed``/``scenarios`` are those `assortopt.models.build` used (0 if
        unknown).

        Raises
        ------
        OptionError
            As `plan`, or ``eval_reps < 0``.
        """
        if eval_reps < 0:
            raise OptionError(f"eval_reps must be >= 0, got {eval_reps}")
        inst, _ = self._n_products(inst)
        plan = result if isinstance(result, Plan) else self.plan(result, inst)
        return package(
            inst,
            method or self.name,
            plan,
            seed=int(self.info.get("seed", 0)),
            scenarios=int(self.info.get("scenarios", 0)),
            eval_reps=eval_reps,
            eval_seed=eval_seed,
            bound=bound,
        )


_AXES = {"units": ("product", "unit"), "tail": ("product", "unit")}


def _start_value(v: Any, start: np.ndarray, f: Formulation) -> float:
    cols = f._col_vars or []
    idx = f.__dict__.setdefault("_col_index", {id(cv): j for j, cv in enumerate(cols)})
    j = idx.get(id(v))
    if j is not None:
        return float(start[j])
    return float(v.value) if v.value is not None else (v.lb if v.lb is not None else 0.0)


def _to_pyomo(f: Formulation) -> tuple[Any, list[Any]]:
    """Make the Pyomo model from the arrays: one Var per block, one Constraint per row block."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    lp = f.lp
    m = pyo.ConcreteModel(name=f.name)
    col_vars: list[Any] = [None] * lp.n_cols
    for name, blk in f.var_blocks.items():
        idx = np.argwhere(blk.cols >= 0)
        keys = [blk.key(tuple(i)) for i in idx]
        domain = pyo.Binary if blk.binary else (pyo.Integers if blk.integer else pyo.Reals)
        var = pyo.Var(keys, domain=domain, dense=True) if keys else pyo.Var([], domain=domain)
        setattr(m, name, var)
        for i, k in zip(idx, keys, strict=True):
            j = int(blk.cols[tuple(i)])
            vd = var[k]
            lo, hi = lp.col_lo[j], lp.col_hi[j]
            vd.setlb(None if lo == -INF else float(lo))
            vd.setub(None if hi == INF else float(hi))
            col_vars[j] = vd
    A = lp.A
    indptr, indices, data = A.indptr, A.indices, A.data
    for name, (r0, r1) in f.row_blocks.items():

        def rule(_m: Any, r: int, r0: int = r0) -> Any:
            row = r0 + r
            s, e = indptr[row], indptr[row + 1]
            expr = LinearExpression(
                constant=0.0,
                linear_coefs=[float(a) for a in data[s:e]],
                linear_vars=[col_vars[j] for j in indices[s:e]],
            )
            lo, hi = lp.row_lo[row], lp.row_hi[row]
            if lo == hi:
                return expr == float(lo)
            return (None if lo == -INF else float(lo), expr, None if hi == INF else float(hi))

        setattr(m, name, pyo.Constraint(range(r1 - r0), rule=rule))
    nz = np.flatnonzero(lp.c)
    obj = LinearExpression(
        constant=float(lp.offset),
        linear_coefs=[float(lp.c[j]) for j in nz],
        linear_vars=[col_vars[j] for j in nz],
    )
    m.objective = pyo.Objective(expr=obj, sense=pyo.maximize if lp.sense == "max" else pyo.minimize)
    return m, col_vars
