"""`solve`: plan with a named method, bound it, evaluate it out of sample, report it."""

from __future__ import annotations

import time
from typing import Any

from .commitment import check_commitment
from .exceptions import OptionError
from .instance import Instance
from .methods.base import PlanRequest, get_method
from .packaging import Solution, package
from .solver import SolverOptions

__all__ = ["Solution", "package", "solve"]


def solve(
    inst: Instance,
    method: str = "heuristic",
    scenarios: int = 100,
    seed: int = 0,
    *,
    time_limit: float | None = None,
    mip_gap: float = 1e-4,
    threads: int | None = None,
    verbose: bool = False,
    params: dict[str, Any] | None = None,
    eval_reps: int = 10000,
    eval_seed: int | None = None,
    write_model: str | None = None,
    options: SolverOptions | None = None,
    committed: Any = None,
) -> Solution:
    """Plan stock for ``inst`` with ``method`` and report it.

    Parameters
    ----------
    inst
        The instance.
    method
        A registered method name (``heuristic``, ``mip``, ``spill-mip``, ``newsvendor``, ...).
    scenarios
        K, sampled scenarios the method plans on.
    seed
        Seed of every planning draw. The out-of-sample evaluation uses ``eval_seed``
        (default ``seed + 1``), so its customers are independent of the planning streams.
    time_limit, mip_gap, threads, verbose
        Solver control (see `SolverOptions`); ``options`` overrides them all.
    params
        Method-specific options; unknown keys raise `OptionError`.
    eval_reps
        Replications of the out-of-sample evaluation (0 to skip it).
    write_model
        Write the method's LP/MIP to this ``.mps``/``.lp`` file (methods that build one).
    committed
        Stock already bought: an int array (``-1`` free, ``u >= 0`` exactly ``u`` units) or a
        mapping ``{id: units}`` (products not listed are free); see `assortopt.commitment`.
        Every method keeps those units; a commitment that alone breaks the budget or
        ``max_products`` gives status ``infeasible``.

    Raises
    ------
    OptionError
        Unknown method or option, or a bad value.
    """
    if scenarios < 1:
        raise OptionError(f"scenarios must be >= 1, got {scenarios}")
    if seed < 0:
        raise OptionError(f"seed must be >= 0, got {seed}")
    if eval_reps < 0:
        raise OptionError(f"eval_reps must be >= 0, got {eval_reps}")
    if write_model and not write_model.endswith((".mps", ".lp")):
        raise OptionError(f"--write-model: {write_model}: the file name must end in .mps or .lp")
    fn = get_method(method)
    opts = options or SolverOptions(
        time_limit=time_limit, mip_gap=mip_gap, threads=threads, verbose=verbose
    )
    params = dict(params or {})
    committed = check_commitment(inst, committed)
    req = PlanRequest(
        scenarios=scenarios,
        seed=seed,
        options=opts,
        params=params,
        write_model=write_model,
        committed=committed,
    )
    t0 = time.perf_counter()
    plan = fn(inst, req)
    return package(
        inst,
        method,
        plan,
        seed=seed,
        scenarios=scenarios,
        eval_reps=eval_reps,
        eval_seed=eval_seed,
        timings={"plan_s": time.perf_counter() - t0},
        params=params,
        committed=committed,
    )
