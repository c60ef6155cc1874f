"""From a `Plan` to a `Solution`: the LP bound, an out-of-sample evaluation, the solution file.

Every way of planning (`assortopt.solve`, a builder's ``Formulation.solution``, the MPI solve)
ends in `package`, so their files agree. The file's fields are described in README.md
("Solution file").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .instance import Instance
from .plan import Plan
from .solution import SOLUTION_FORMAT
from .solver.status import holds_plan

__all__ = ["Solution", "package"]


@dataclass
class Solution:
    """A planned stock with everything the solution file reports (README.md, "Solution file").

    ``stock`` is the int64 plan (length N); ``objective`` the method's in-sample value;
    ``lp_bound`` the LP upper bound on expected profit; ``evaluation`` an out-of-sample
    simulation on streams independent of the planning streams.
    """

    instance: Instance
    method: str
    plan: Plan
    lp_bound: float | None
    evaluation: Any | None
    seed: int
    scenarios: int
    timings: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    committed: np.ndarray | None = None

    @property
    def stock(self) -> np.ndarray:
        return self.plan.stock

    @property
    def status(self) -> str:
        return self.plan.status

    @property
    def assortment(self) -> list[str]:
        return [self.instance.ids[i] for i in np.flatnonzero(self.plan.stock > 0)]

    def to_dict(self) -> dict[str, Any]:
        """The solution file as a JSON-ready dict."""
        p = self.plan
        d: dict[str, Any] = {
            "format": SOLUTION_FORMAT,
            "instance": self.instance.name,
            "method": self.method,
            "status": p.status,
            "termination": p.termination.value,
            "stock": self.instance.stock_dict(p.stock),
            "assortment": self.assortment,
            "objective": _num(p.objective),
            "lp_bound": _num(self.lp_bound),
            "evaluation": self.evaluation.to_dict() if self.evaluation is not None else None,
            "seed": self.seed,
            "scenarios": self.scenarios,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
        if p.bound is not None:
            d["mip_bound"] = _num(p.bound)
        if p.gap is not None:
            d["mip_gap"] = _num(p.gap)
        if p.message:
            d["message"] = p.message
        if self.params:
            d["params"] = self.params
        if self.committed is not None:
            fixed = self.committed >= 0
            d["committed"] = {
                self.instance.ids[i]: int(self.committed[i]) for i in np.flatnonzero(fixed)
            }
        # wall times a method reports go with the timings, so that the rest of the file
        # depends on the command alone
        extra = {k: _jsonable(v) for k, v in p.extra.items() if not _is_timing(k, v)}
        for k, v in p.extra.items():
            if _is_timing(k, v):
                d["timings"][f"{self.method}.{k}"] = round(float(v), 4)
        if extra:
            d["extra"] = extra
        return d

    def table(self, reps: int = 2000, seed: int | None = None) -> Any:
        """The planner's view: a pandas DataFrame, one row per product (id, vendor, units,
        first-choice demand T·λ, expected sales, sell-through, stock-out probability,
        substitution in and out, ...), from ``reps`` simulated seasons drawn from ``seed``
        (default: the solution's evaluation seed, ``seed + 1``); see `assortopt.planner`."""
        from .planner import plan_table

        return plan_table(self.instance, self.stock, reps, self.seed + 1 if seed is None else seed)

    def summary(self) -> str:
        """A few lines for humans (the CLI prints them to stderr)."""
        lines = [
            f"{self.instance.name or 'instance'}: method {self.method}, status {self.status} "
            f"({self.plan.termination.value})",
            f"  stocked {len(self.assortment)} of {self.instance.n} products, "
            f"{int(self.plan.stock.sum())} units",
        ]
        if self.plan.objective is not None:
            lines.append(f"  in-sample objective {self.plan.objective:.4f}")
        if self.plan.bound is not None or self.plan.gap is not None:
            bound = "none" if self.plan.bound is None else f"{self.plan.bound:.4f}"
            gap = "unknown" if self.plan.gap is None else f"{100 * self.plan.gap:.2f}%"
            lines.append(f"  proven bound {bound}, gap {gap}")
        if self.evaluation is not None:
            ev = self.evaluation
            pct = (
                f" ({100 * ev.mean / self.lp_bound:.1f}% of LP bound {self.lp_bound:.4f})"
                if (self.lp_bound and self.lp_bound > 0)
                else ""
            )
            lines.append(f"  expected profit {ev.mean:.4f} ± {ev.stderr:.4f}{pct}")
        if self.plan.message:
            lines.append(f"  {self.plan.message}")
        lines.append(f"  time {self.timings.get('total_s', 0.0):.2f}s")
        return "\n".join(lines)


def _is_timing(key: str, value: Any) -> bool:
    return key.endswith("_s") and isinstance(value, int | float | np.floating)


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def package(
    inst: Instance,
    method: str,
    plan: Plan,
    *,
    seed: int,
    scenarios: int,
    eval_reps: int = 10000,
    eval_seed: int | None = None,
    timings: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    bound: bool = True,
    committed: np.ndarray | None = None,
) -> Solution:
    """A plan made into a `Solution`: the LP bound (when ``bound``) and an out-of-sample
    `simulate` of ``eval_reps`` seasons from ``eval_seed`` (default ``seed + 1``, independent of
    the planning draws), skipped for infeasible or failed plans. Every way of planning (`solve`,
    a builder's `Formulation.solution`, the MPI solve) ends here, so their files agree.
    ``committed``: the plan was made around that stock; the bound is then the bound over plans
    that keep it, and the file lists it under ``committed``."""
    timings = dict(timings or {})
    t0 = time.perf_counter()
    lpb = None
    if bound:
        from .bound import lp_bound

        lpb = lp_bound(inst, committed=committed).value
        timings["bound_s"] = time.perf_counter() - t0
    evaluation = None
    if eval_reps and holds_plan(plan.status):
        from .simulation import simulate

        t2 = time.perf_counter()
        evaluation = simulate(
            inst, plan.stock, reps=eval_reps, seed=seed + 1 if eval_seed is None else eval_seed
        )
        timings["evaluate_s"] = time.perf_counter() - t2
    timings["total_s"] = sum(v for k, v in timings.items() if k != "total_s")
    return Solution(
        instance=inst,
        method=method,
        plan=plan,
        lp_bound=lpb,
        evaluation=evaluation,
        seed=seed,
        scenarios=scenarios,
        timings=timings,
        params=params or {},
        committed=committed,
    )
