"""Method ``mip``: the exact sample-path SAA MIP (models/sample_path_mip.md) solved with HiGHS.

Samples ``req.scenarios`` streams of preference lists from ``req.seed``, builds
`assortopt.models.sample_path_mip.build_sample_path_mip` and solves it. The objective reported is
the in-sample average profit of the plan on those streams; ``bound``/``gap`` are HiGHS's proven
bound and relative gap. Params:

* ``formulation``: ``"bnb"`` (default: branch-and-bound over the stock with the exact
  simulator, no HiGHS: `assortopt.methods.mip_bnb`, models/stock_bnb.md), ``"strong"`` (the
  HiGHS model; the default instead when the call writes the model file or passes a HiGHS-only
  param: presolve, lp_first, unit_level), ``"bigm"`` (the textbook model, for comparison) or
  ``"portfolio"`` (``bnb`` here and ``strong`` in a second process on the same scenarios,
  trading bounds and plans: `assortopt.methods.mip_portfolio`, models/stock_bnb.md §7).
* ``start``: warm start: a method name (default ``"heuristic"`` when that method exists),
  ``"none"``, or a plan (``{id: units}`` or a length-N list). A time-limited solve never returns
  a plan worse in-sample than a feasible start.
* ``candidates``: ``"margin"`` (default: products with positive margin, exact), ``"all"``, or a
  list of ids (a restriction, not exact).
* ``min_stock``: ``{id: units}`` that must be stocked (forces products in; may make the
  constraints infeasible, reported as status ``infeasible``).
* ``presolve``: HiGHS presolve for this solve, ``"off"`` (default for ``strong``: its relaxation
  is already tight and probing costs more than it saves) or ``"on"``/``"choose"``. An explicit
  ``presolve`` in the native HiGHS options wins.
* ``unit_level``: ``"auto"`` (default), ``true`` or ``false``: the strong formulation's
  unit-level sales state (tight, but quadratic in the interested customers per scenario) or its
  compact variant; "auto" picks unit-level for short seasons (models/sample_path_mip.md §4).
* ``lp_first``: solve the LP relaxation first and stop when its vertex is integral (a proven
  optimum); default true for ``strong``, whose relaxation is usually integral.
* ``isolate``: ``"auto"`` (default), ``true`` or ``false``: run HiGHS in a second process that
  is killed at the time limit, keeping the best plan and bound it reported
  (`assortopt.models.sample_path_mip.process`): HiGHS does not ask its interrupt callbacks
  everywhere, and on large models it has overrun a 600 s limit by 2 minutes (README.md, "Time
  limits"). "auto" isolates a time-limited solve of at least `ISOLATE_ENTRIES` matrix entries
  (starting the process costs about a second).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..commitment import forced_units_problem
from ..exceptions import OptionError
from ..instance import Instance
from ..models.committed import fix_committed
from ..models.sample_path_mip import (
    FORMULATIONS,
    build_sample_path_mip,
    complete_start,
    solve_sample_path_mip,
)
from ..solver.status import INFEASIBLE, Termination
from .base import (
    Plan,
    PlanRequest,
    register,
    start_plan,
    stopped_before,
    time_is_up,
    time_left,
    too_big_for,
)
from .empty import constraint_empties
from .params import any_value, auto_or_boolean, boolean, choice

#: Declared type and range of each option (``--param KEY=VALUE``), checked before any work.
PARAMS = {
    "formulation": choice(*FORMULATIONS, "bnb", "portfolio"),
    "start": any_value,  # a method name, "none" or a plan {id: units}
    "candidates": any_value,  # "margin", "all", a mask or ids (checked by the builder)
    "min_stock": any_value,  # {id: units} (checked by `_min_stock`)
    "presolve": choice("off", "on", "choose"),
    "lp_first": boolean,
    "unit_level": auto_or_boolean,
    "polish": boolean,  # bnb only: unit moves from the search's plans (models/stock_bnb.md §4)
    "branching": choice("pseudocost", "bound-point", "widest", "at-point"),  # bnb only (§4)
    "isolate": auto_or_boolean,
}

#: ``isolate=auto`` runs a time-limited HiGHS solve of at least this many matrix entries in a
#: second process (the K = 50, N = 10, T = 50 strong model has about 100,000).
ISOLATE_ENTRIES = 100_000


def _start_stock(
    inst: Instance, req: PlanRequest, start: Any, t0: float
) -> tuple[np.ndarray | None, str]:
    """The warm-start stock (length N) and a label saying where it came from: a method name
    (run by `start_plan`) or a plan ``{id: units}``."""
    if start is None or isinstance(start, str):
        plan0, label = start_plan(inst, req, start, "mip", t0)
        return (None if plan0 is None else np.asarray(plan0.stock, dtype=np.int64)), label
    return inst.stock_vector(start), "plan"


def _min_stock(inst: Instance, value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OptionError("mip: min_stock must be a mapping {id: units}")
    return inst.stock_vector(value)


def _default_formulation(req: PlanRequest) -> str:
    """``bnb`` (models/stock_bnb.md), except ``strong`` when the call needs the HiGHS model: a
    ``write_model`` file or a HiGHS-only param (presolve, lp_first, unit_level, isolate)."""
    highs_only = ("presolve", "lp_first", "unit_level", "isolate")
    if req.write_model or any(k in req.params for k in highs_only):
        return "strong"
    return "bnb"


@register("mip", params=PARAMS)
def mip(inst: Instance, req: PlanRequest) -> Plan:
    """Stock maximising average simulated profit over ``req.scenarios`` sampled streams, exactly."""
    from ..sampling import sample_streams

    t0 = time.perf_counter()
    formulation = str(req.param("formulation", _default_formulation(req)))
    if formulation not in (*FORMULATIONS, "bnb", "portfolio"):
        raise OptionError(
            f"mip: formulation must be one of {', '.join((*FORMULATIONS, 'bnb', 'portfolio'))}, "
            f"got {formulation!r}"
        )
    default_start = "heuristic"
    lo = _min_stock(inst, req.param("min_stock", None))
    if req.committed is not None:  # committed units are forced in here, fixed after the build
        units = np.maximum(req.committed, 0)
        lo = units if lo is None else np.maximum(lo, units)
    presolve = req.param("presolve", "off" if formulation == "strong" else "choose")
    if presolve not in ("off", "on", "choose"):
        raise OptionError(f"mip: presolve must be 'off', 'on' or 'choose', got {presolve!r}")
    reason = None if lo is None else forced_units_problem(inst, lo, "min_stock")
    if reason is not None:
        return Plan(
            np.zeros(inst.n, np.int64),
            status=INFEASIBLE,
            message=f"{reason}: no plan satisfies the constraints",
            termination=Termination.INFEASIBLE,
        )

    empty = constraint_empties(inst) if lo is None or not lo.any() else None
    if empty is not None:
        return Plan.proven_empty(inst.n, empty)
    if formulation in ("bnb", "portfolio"):
        from .mip_bnb import plan_bnb

        plan0, label = _start_stock(inst, req, req.param("start", default_start), t0)
        return plan_bnb(inst, req, lo, plan0, label, t0, formulation == "portfolio")

    # the warm start first: when it uses up the limit, its plan is the answer (no MIP built)
    plan0, label = _start_stock(inst, req, req.param("start", default_start), t0)
    if time_is_up(req.options, t0):
        return stopped_before(inst, plan0, label, "the MIP")
    stream = sample_streams(inst, req.scenarios, req.seed)
    unit_level = req.param("unit_level", "auto")
    if isinstance(unit_level, str) and unit_level.lower() in ("true", "false"):
        unit_level = unit_level.lower() == "true"
    f = build_sample_path_mip(
        inst,
        stream,
        formulation,
        req.param("candidates", None),
        min_stock=lo,
        unit_level=unit_level,
    )
    fix_committed(f, req.committed)
    extra: dict[str, Any] = {
        "formulation": formulation,
        "unit_level": f.info.get("unit_level", False),
        "columns": f.lp.n_cols,
        "rows": f.lp.n_rows,
        "integers": f.info["binaries"],
        "scenarios_kept": f.info["scenarios_kept"],
        "products_considered": len(f.info["products"]),
    }
    x0 = None
    if plan0 is not None:
        x0 = complete_start(f, inst, plan0)
        extra["start"] = label
        if f.lp.is_feasible(x0):
            extra["start_objective"] = f.lp.objective_value(x0)
        else:
            extra["start"] = f"{label} (breaks a constraint; ignored)"
            x0 = None

    if time_is_up(req.options, t0):  # building the model used up the limit
        return stopped_before(inst, plan0, label, "the MIP solve")
    why = too_big_for(req.options, t0, f.lp.A.nnz)
    if why is not None:
        return stopped_before(inst, plan0, label, f"the MIP solve ({why})")
    options = time_left(req.options, t0)
    if "presolve" not in options.highs:
        options = dataclasses.replace(options, highs={**options.highs, "presolve": presolve})

    if f.lp.n_cols == 0:
        return Plan.proven_empty(inst.n, "no product can be stocked profitably", extra)
    lp_first = bool(req.param("lp_first", formulation == "strong"))
    isolate = auto_or_boolean(req.param("isolate", "auto"))
    if isolate == "auto":
        isolate = options.time_limit is not None and f.lp.A.nnz >= ISOLATE_ENTRIES
    if isolate:
        from ..models.sample_path_mip.process import solve_in_process

        t_write = time.perf_counter()
        if req.write_model:
            f.write(req.write_model, options)
        res = solve_in_process(f, inst, time_left(options, t_write), x0, lp_first)
    else:
        res = solve_sample_path_mip(
            f, inst, options, start=x0, lp_first=lp_first, write=req.write_model
        )
    extra.update(
        nodes=res.nodes,
        solve_s=res.time_s,
        lp_first=res.extra.get("lp_first", False),
        isolated=bool(isolate),
    )
    if res.x is None:
        if res.status == INFEASIBLE:
            res.message = "the constraints admit no plan (HiGHS proved the MIP infeasible)"
        return Plan.from_result(np.zeros(inst.n, np.int64), res, extra)
    return Plan.from_result(f.stock(res.x, inst.n), res, extra)
