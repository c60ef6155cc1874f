"""The extensive form: every scenario model in one program (``sputils.create_EF``), solved by
HiGHS on rank 0 while the other ranks wait (models/mpi.md)."""

from __future__ import annotations

import time
from typing import Any

from ..solver import SolverOptions
from .comm import abort
from .contract import scenario_creator, scenario_names_creator, stock_from_block
from .result import MPIResult, out_of_time

__all__ = ["run_ef"]


class _OutOfTime(Exception):
    """The scenario models of the extensive form cannot be built in the time left."""


def build_seconds(names: list[str], kw: dict[str, Any]) -> tuple[float, float]:
    """Seconds to build one scenario model and to compile it (`compile_model`): the second one
    is timed (the first one also draws the data every scenario shares, cached per process)."""
    from ..solver.pyomo_bridge import compile_model

    scenario_creator(names[0], **kw)
    t = time.perf_counter()
    m = scenario_creator(names[min(1, len(names) - 1)], **kw)
    t1 = time.perf_counter()
    compile_model(m)
    return t1 - t, time.perf_counter() - t1


def run_ef(
    comm: Any, kw: dict[str, Any], options: SolverOptions, t0: float | None = None
) -> MPIResult | None:
    """The extensive form from the scenario models, solved by HiGHS on rank 0.

    Under ``options.time_limit`` (counted from ``t0``, perf_counter) the build is priced by
    building and compiling one scenario model first and refused when K of them would not fit
    in the time left; the clock is checked after every scenario model (leaving the priced
    compilation its time), and HiGHS gets what is left. Out of
    time before HiGHS starts: status ``error``, termination ``time_limit``.
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
        try:
            creator = scenario_creator
            if deadline is not None:
                per, per_compile = build_seconds(names, kw)
                compile_s = per_compile * len(names)  # the EF's compilation, priced per model
                left = deadline - time.perf_counter()
                if (per + per_compile) * len(names) > left:
                    raise _OutOfTime(
                        f"the extensive form's {len(names)} scenario models would take about "
                        f"{per * len(names) + compile_s:.1f} s to build and compile (one took "
                        f"{per:.2f} s and {per_compile:.2f} s); "
                        f"{max(left, 0):.1f} s of the time limit were left"
                    )

                def creator(name: str, **kwargs: Any) -> Any:
                    if time.perf_counter() > deadline - compile_s:
                        raise _OutOfTime(
                            "the time limit ran out while building the extensive form's "
                            f"scenario models (at {name} of {len(names)})"
                        )
                    return scenario_creator(name, **kwargs)

            ef = sputils.create_EF(
                names, creator, scenario_creator_kwargs=kw, suppress_warnings=True
            )
            lp, columns = compile_model(ef)
            if deadline is not None and time.perf_counter() > deadline:
                raise _OutOfTime("the time limit ran out while compiling the extensive form")
        except _OutOfTime as exc:
            comm.Barrier()
            return out_of_time("ef", comm.Get_size(), f"ef: {exc}")
        r = solve_lp(lp, options if limit is None else time_left(options, t0))
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
            extra={"columns": lp.n_cols, "rows": lp.n_rows, "solve_s": r.time_s},
        )
    except BaseException as exc:  # noqa: BLE001
        abort(comm, exc, "the extensive form")
        raise  # pragma: no cover
    comm.Barrier()
    return res
