"""The entry point of an MPI solve: check the input on every rank, run the decomposition,
round and package the plan on rank 0 (models/mpi.md)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InstanceError, OptionError
from ..instance import Instance, load_instance
from ..solver import ERROR, FEASIBLE, HEURISTIC, OPTIMAL, SolverOptions
from ..solver.status import Termination
from .comm import abort, agree, guarded, stdout_to_stderr
from .contract import check_method
from .ef import run_ef
from .lshaped import run_lshaped
from .ph import run_wheel
from .result import MPIResult

__all__ = ["DECOMPOSITIONS", "PARAMS", "check_params", "solve_mpi"]

DECOMPOSITIONS = ("ef", "ph", "lshaped")
#: Parameters `solve_mpi` takes (``--param KEY=VALUE`` on the command line).
PARAMS = ("rho", "iterations", "rel_gap")


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """`PARAMS` with their defaults filled in; `OptionError` for an unknown or bad one."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise OptionError(f"--mpi does not take option(s) {', '.join(unknown)}")
    out = {"rho": 1.0, "iterations": 200, "rel_gap": 0.005}
    for k, v in params.items():
        try:
            out[k] = int(v) if k == "iterations" else float(v)
        except (TypeError, ValueError):
            raise OptionError(f"--param {k}: not a number: {v!r}") from None
    if out["rho"] <= 0 or out["iterations"] < 1 or out["rel_gap"] < 0:
        raise OptionError("--param: rho must be > 0, iterations >= 1, rel_gap >= 0")
    return out


def solve_mpi(
    inst_path: str | os.PathLike[str],
    method: str = "spill-mip",
    scenarios: int = 100,
    seed: int = 0,
    decomposition: str = "ef",
    options: SolverOptions | None = None,
    params: dict[str, Any] | None = None,
    eval_reps: int = 10000,
) -> Any:
    """Solve ``method``'s SAA program on ``scenarios`` scenarios across the MPI ranks.

    Every rank of ``MPI.COMM_WORLD`` must call it. Returns the `assortopt.api.Solution` on
    rank 0 (plan, status, objective, bound and gap of the decomposition, LP bound, out-of-sample
    evaluation over ``eval_reps`` seasons) and None on the other ranks.

    Parameters
    ----------
    inst_path
        The instance file; every rank reads it.
    method
        ``saa-lp-all``, ``spill-mip`` or ``mip``.
    scenarios, seed
        K and the seed: the scenarios are those the single-process method draws.
    decomposition
        ``ef``, ``ph`` or ``lshaped`` (``saa-lp-all`` only; see the module docstring for the
        ranks each needs).
    options
        HiGHS control for every subproblem; for ``ph`` the time limit is checked between PH
        iterations (not a hard wall-clock bound), for ``lshaped`` it bounds the whole run.
    params
        ``rho`` (PH penalty factor per unit of net cost, default 1), ``iterations`` (PH/L-shaped
        iteration limit, 200), ``rel_gap`` (stop when the certified gap is below it, 0.005).

    Raises
    ------
    OptionError
        Unknown method, decomposition or option, or a rank count the decomposition cannot use
        (on every rank; rank 0 raises it, the others exit with status 2). A rank failing later
        prints one line and aborts the whole run (``MPI_Abort``).
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    options = options or SolverOptions()
    err: BaseException | None = None
    _import_engine(decomposition)
    # the time limit counts from here: imports are start-up, as in the single-process solve
    t0 = time.perf_counter()
    try:
        check_method(method)
        if decomposition not in DECOMPOSITIONS:
            raise OptionError(
                f"--decomposition must be one of {', '.join(DECOMPOSITIONS)}, got {decomposition!r}"
            )
        if decomposition == "lshaped" and method != "saa-lp-all":
            raise OptionError(
                f"--decomposition lshaped needs a continuous second stage: it solves saa-lp-all, "
                f"not {method} (use --decomposition ef or ph)"
            )
        if scenarios < 1:
            raise OptionError(f"scenarios must be >= 1, got {scenarios}")
        if eval_reps < 0:
            raise OptionError(f"eval_reps must be >= 0, got {eval_reps}")
        size = comm.Get_size()
        if decomposition == "ph" and size % 3 and size % 2:
            raise OptionError(f"--decomposition ph needs a multiple of 2 or 3 ranks, got {size}")
        prm = check_params(dict(params or {}))
        inst = load_instance(inst_path)
    except (OptionError, InstanceError) as exc:  # input errors: agreed, then raised (exit 2)
        err = exc
    except Exception as exc:  # noqa: BLE001  (anything else is a failure: every rank stops)
        abort(comm, exc, "the set-up")
    agree(comm, err)
    path = str(Path(inst_path))
    kw = {"inst_path": path, "method": method, "num_scens": int(scenarios), "seed": int(seed)}
    run_options = options
    if method == "saa-lp-all" and options.time_limit is not None:
        reserve = None
        if comm.Get_rank() == 0:
            with guarded(comm, "pricing the rounding"):
                reserve = _rounding_reserve(inst, scenarios, seed, options.time_limit)
        reserve = comm.bcast(reserve, root=0)
        run_options = replace(options, time_limit=max(options.time_limit - reserve, 1e-3))
    try:
        with stdout_to_stderr():
            if decomposition == "ef":
                res = run_ef(comm, kw, run_options, t0)
            elif decomposition == "lshaped":
                res = run_lshaped(comm, kw, run_options, prm, t0)
            else:
                res = run_wheel(comm, kw, run_options, prm, decomposition, t0)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001
        abort(comm, exc, f"the {decomposition} run")
        raise  # pragma: no cover  (Abort does not return)
    if comm.Get_rank() != 0:
        return None
    assert res is not None
    res.time_s = time.perf_counter() - t0
    return _solution(inst, method, res, scenarios, seed, options, eval_reps, t0)


def _import_engine(decomposition: str) -> None:
    """Import mpi-sppy's modules the decomposition uses (seconds of start-up on every rank)."""
    try:
        import mpisppy.utils.sputils  # noqa: F401

        if decomposition == "ph":
            import mpisppy.spin_the_wheel  # noqa: F401
            import mpisppy.utils.cfg_vanilla  # noqa: F401
    except ImportError:  # reported by the run itself, with its message
        pass


#: The decomposition of ``saa-lp-all`` ends this many priced roundings before the limit.
ROUNDINGS_RESERVED = 2.0


def _rounding_reserve(inst: Instance, scenarios: int, seed: int, limit: float) -> float:
    """Seconds kept for the SAA-LP's rounding on rank 0 (`_saa_lp_plan`): it cannot start
    before the decomposition ends, and its first steps (drawing the K seasons, loading the
    compiled kernels, scoring the start) run before it checks the clock; measured after the
    decomposition had used the whole limit: 1.4 s at 1,000 products (lshaped, L = 20 s), 4 s
    under load. Priced by one rounding stopped at once (which also loads the kernels), times
    `ROUNDINGS_RESERVED`, plus 2% of the limit; at most a third of it. Run on rank 0.
    """
    from ..methods.baselines import round_saa_stock

    t = time.perf_counter()
    round_saa_stock(inst, np.full(inst.n, 0.5), "simulate", scenarios, seed, 0.0, 1e-9)
    took = time.perf_counter() - t
    return min(ROUNDINGS_RESERVED * took + 0.02 * limit, limit / 3)


def _saa_lp_plan(
    inst: Instance, res: MPIResult, scenarios: int, seed: int, options: SolverOptions, t0: float
) -> Any:
    """Round the SAA-LP's fractional stock exactly as the ``saa-lp-all`` method does, in the
    time left of ``options.time_limit`` since ``t0``."""
    from ..methods.base import Plan
    from ..methods.baselines import round_saa_stock
    from ..solver import time_left

    options = time_left(options, t0)

    x = np.asarray(res.stock)
    c = inst.max_products
    if c is not None and int((x > 1e-9).sum()) > c:
        from ..methods.base import PlanRequest, get_method

        # the top-C re-solve of saa-lp-all is a single small LP: done on rank 0
        req = PlanRequest(scenarios=scenarios, seed=seed, options=options)
        plan = get_method("saa-lp-all")(inst, req)
        plan.message += "; max_products binds: rounded by the single-process saa-lp-all"
        return plan
    q, obj, cut = round_saa_stock(
        inst, x, "simulate", scenarios, seed, float(res.objective or 0.0), options.time_limit
    )
    if not cut:
        return Plan(q, status=HEURISTIC, objective=obj, termination=res.termination)
    msg = "the simulated rounding stopped at the time limit"
    return Plan(q, status=HEURISTIC, objective=obj, message=msg, termination=Termination.TIME_LIMIT)


def _solution(
    inst: Instance,
    method: str,
    res: MPIResult,
    scenarios: int,
    seed: int,
    options: SolverOptions,
    eval_reps: int,
    t0: float,
) -> Any:
    """The solution on rank 0; its ``plan_s`` runs from ``t0`` to the rounded plan."""
    from ..methods.base import Plan
    from ..packaging import package

    extra: dict[str, Any] = {
        "decomposition": res.decomposition,
        "ranks": res.ranks,
        "mpi_status": res.status,
        "mpi_termination": res.termination.value,
        "mpi_objective": res.objective,
        "mpi_bound": res.bound,
        "mpi_gap": res.gap,
        "mpi_s": res.time_s,
        **res.extra,
    }
    if res.stock is None:
        plan = Plan(
            np.zeros(inst.n, np.int64),
            status=ERROR,
            message=res.message,
            extra=extra,
            termination=res.termination,
        )
    elif method == "saa-lp-all":
        plan = _saa_lp_plan(inst, res, scenarios, seed, options, t0)
        plan.extra.update(extra)
        plan.extra["saa_objective"] = res.objective
        if res.message:
            plan.message = (plan.message + "; " + res.message).strip("; ")
        if res.status not in (OPTIMAL, FEASIBLE):
            plan = Plan(
                np.zeros(inst.n, np.int64),
                status=ERROR,
                message=plan.message,
                extra=plan.extra,
                termination=res.termination,
            )
    else:
        plan = Plan.from_result(np.maximum(np.round(res.stock), 0).astype(np.int64), res, extra)
    return package(
        inst,
        method,
        plan,
        seed=seed,
        scenarios=scenarios,
        eval_reps=eval_reps,
        timings={"plan_s": time.perf_counter() - t0},
        params={"mpi": True, "decomposition": res.decomposition},
    )
