"""The extensive form: every scenario model in one program (``sputils.create_EF``), solved by
HiGHS on rank 0 while the other ranks wait (models/mpi.md)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..solver import FEASIBLE, SolverOptions
from . import contract
from .comm import abort
from .contract import scenario_creator, scenario_names_creator, stock_from_block
from .result import MPIResult, out_of_time

__all__ = ["OutOfTime", "build_seconds", "ef_start", "run_ef", "warm_start"]


class OutOfTime(Exception):
    """The scenario models cannot be built in the time left."""


#: The fastest Pyomo is assumed to build a scenario model at, in seconds per nonzero of its
#: array form: measured 14-30 µs per nonzero (mip, spill-mip, saa-lp-all scenario models of
#: sparse-n1000-t1000 on an idle 2-core machine), so this floor is 7-15 times optimistic: a
#: build refused on it could not have fitted on a much faster machine either.
PYOMO_SECONDS_PER_NNZ = 2e-6


def build_seconds(
    names: list[str], kw: dict[str, Any], models: int, left: float | None = None
) -> tuple[float, float]:
    """Seconds to build one scenario model and to compile it (`compile_model`): the second one
    is timed (the first one also pays Pyomo's one-time costs).

    With ``left`` (seconds) the scenario data is drawn and one scenario's array form built
    first: when ``models`` scenario models could not be built in ``left`` even at
    `PYOMO_SECONDS_PER_NNZ`, `OutOfTime` is raised before any Pyomo model is built (the
    probe itself costs seconds at 1,000 products)."""
    from ..solver.pyomo_bridge import compile_model

    if left is not None:
        t = time.perf_counter()
        data = contract.scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
        f = contract.scenario_formulation(data, 0)
        floor = models * f.lp.A.nnz * PYOMO_SECONDS_PER_NNZ
        if floor > left - (time.perf_counter() - t):
            raise OutOfTime(
                f"{models} scenario models of {f.lp.A.nnz:,} nonzeros each would take at "
                f"least {floor:.3g} s to build; {max(left, 0):.3g} s of the time limit were left"
            )
    contract.scenario_creator(names[0], **kw)
    t = time.perf_counter()
    m = contract.scenario_creator(names[min(1, len(names) - 1)], **kw)
    t1 = time.perf_counter()
    compile_model(m)
    return t1 - t, time.perf_counter() - t1


#: Methods whose extensive form is warm-started from the single-process warm start.
WARM_STARTED = ("mip", "spill-mip")


def warm_start(kw: dict[str, Any], options: SolverOptions, t0: float) -> tuple[Any, str]:
    """The plan the single-process ``mip`` and ``spill-mip`` start from (method ``heuristic``
    on the same scenarios and seed, half of the time left: `start_plan`) and its label; (None,
    label) when it failed or breaks a constraint of the instance (as `stopped_before` judges
    a single-process start: only a plan within the constraints stands in for the answer)."""
    from ..methods.base import PlanRequest, start_plan
    from ..solution import violations

    data = contract.scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    req = PlanRequest(scenarios=kw["num_scens"], seed=kw["seed"], options=options)
    plan, label = start_plan(data.inst, req, "heuristic", kw["method"], t0)
    if plan is None:
        return None, label
    if violations(data.inst, plan.stock):
        return None, f"{label} (breaks a constraint; no start)"
    return np.asarray(plan.stock, np.int64), label


def ef_start(ef: Any, names: list[str], columns: list[Any], kw: dict[str, Any], stock: Any) -> Any:
    """A full column vector of the compiled extensive form from integer ``stock`` (length N):
    each scenario model completed by its builder's own start (`complete_start`: the replayed
    lists of the sample-path MIP, the sell-first outcome of the spill MIP), plus the
    first-stage Vars of the sample-path scenarios (`contract._sample_path_scenario`)."""
    data = contract.scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    inst = data.inst
    stock = np.asarray(stock, np.int64)
    value: dict[int, float] = {}
    for name in names:
        m = getattr(ef, name)
        f = m._assortopt_formulation
        if kw["method"] == "mip":
            from ..models.sample_path_mip import complete_start

            x = complete_start(f, inst, stock)
            first = np.minimum(stock[data.products], data.stock_hi)
            own = f.var_blocks["stock"]
            own_hi = dict(zip(own.labels[0], f.lp.col_hi[own.cols], strict=True))
            for i, q in zip((inst.ids[j] for j in data.products), first, strict=True):
                value[id(m.first_stock[i])] = float(q)
                if i in m.first_cut:
                    value[id(m.first_cut[i])] = float(q >= own_hi[i])
                if hasattr(m, "first_carry"):
                    value[id(m.first_carry[i])] = float(q > 0)
        else:
            from ..models.spill_mip import complete_start

            x = complete_start(f, stock[np.asarray(f.info["products"])])
        for v, xv in zip(f.column_vars, x, strict=True):
            value[id(v)] = float(xv)
    return np.array([value.get(id(v), 0.0) for v in columns])


def run_ef(
    comm: Any, kw: dict[str, Any], options: SolverOptions, t0: float | None = None
) -> MPIResult | None:
    """The extensive form from the scenario models, solved by HiGHS on rank 0.

    Under ``options.time_limit`` (counted from ``t0``, perf_counter) the build is priced by
    building and compiling one scenario model first and refused when K of them would not fit
    in the time left; the clock is checked after every scenario model (leaving the priced
    compilation its time), and HiGHS gets what is left. ``mip`` and ``spill-mip`` first run
    the single-process warm start (`warm_start`) and give HiGHS its plan as a MIP start
    (`ef_start`), as the single-process methods do. Out of time before HiGHS starts: the warm
    start's plan (``feasible``, termination ``time_limit``), else status ``error``.
    """
    if comm.Get_rank() != 0:
        comm.Barrier()
        return None
    t0 = time.perf_counter() if t0 is None else t0
    limit = options.time_limit
    deadline = None if limit is None else t0 + limit
    try:
        import mpisppy.utils.sputils as sputils

        from ..solver import solve_lp, time_left
        from ..solver.pyomo_bridge import compile_model

        names = scenario_names_creator(kw["num_scens"])
        stock0, label = None, "none"
        if kw["method"] in WARM_STARTED:
            stock0, label = warm_start(kw, options, t0)
        try:
            creator = scenario_creator
            if deadline is not None:
                per, per_compile = build_seconds(
                    names, kw, len(names), deadline - time.perf_counter()
                )
                compile_s = per_compile * len(names)  # the EF's compilation, priced per model
                left = deadline - time.perf_counter()
                if (per + per_compile) * len(names) > left:
                    raise OutOfTime(
                        f"the extensive form's {len(names)} scenario models would take about "
                        f"{per * len(names) + compile_s:.1f} s to build and compile (one took "
                        f"{per:.2f} s and {per_compile:.2f} s); "
                        f"{max(left, 0):.1f} s of the time limit were left"
                    )

                def creator(name: str, **kwargs: Any) -> Any:
                    if time.perf_counter() > deadline - compile_s:
                        raise OutOfTime(
                            "the time limit ran out while building the extensive form's "
                            f"scenario models (at {name} of {len(names)})"
                        )
                    return scenario_creator(name, **kwargs)

            ef = sputils.create_EF(
                names, creator, scenario_creator_kwargs=kw, suppress_warnings=True
            )
            lp, columns = compile_model(ef)
            if deadline is not None and time.perf_counter() > deadline:
                raise OutOfTime("the time limit ran out while compiling the extensive form")
        except OutOfTime as exc:
            comm.Barrier()
            res = out_of_time("ef", comm.Get_size(), f"ef: {exc}")
            if stock0 is not None:
                res.status, res.stock = FEASIBLE, stock0.astype(np.float64)
                res.message += f"; the plan of the warm start ({label})"
            return res
        start = None
        if stock0 is not None:
            start = ef_start(ef, names, columns, kw, stock0)
            if not lp.is_feasible(start):
                start, label = None, f"{label} (its start breaks the extensive form; ignored)"
        r = solve_lp(lp, options if limit is None else time_left(options, t0), start=start)
        stock = None
        if r.x is not None:
            value = dict(zip((id(v) for v in columns), r.x, strict=True))
            stock = stock_from_block(getattr(ef, names[0]), kw, lambda v: value.get(id(v), 0.0))
        res = MPIResult(
            status=r.status,
            termination=r.termination,
            stock=stock,
            objective=r.objective,
            bound=r.bound,
            gap=r.gap,
            decomposition="ef",
            ranks=comm.Get_size(),
            time_s=0.0,
            message=r.message,
            extra={"columns": lp.n_cols, "rows": lp.n_rows, "solve_s": r.time_s, "start": label},
        )
    except BaseException as exc:  # noqa: BLE001
        abort(comm, exc, "the extensive form")
        raise  # pragma: no cover
    comm.Barrier()
    return res
