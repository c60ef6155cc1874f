"""The extensive form: every scenario model in one program (``sputils.create_EF``), solved by
HiGHS on rank 0 while the other ranks wait (models/mpi.md)."""

from __future__ import annotations

from typing import Any

from ..solver import SolverOptions
from .comm import abort
from .contract import scenario_creator, scenario_names_creator, stock_from_block
from .result import MPIResult

__all__ = ["run_ef"]


def run_ef(comm: Any, kw: dict[str, Any], options: SolverOptions) -> MPIResult | None:
    """The extensive form from the scenario models, solved by HiGHS on rank 0."""
    if comm.Get_rank() != 0:
        comm.Barrier()
        return None
    try:
        import mpisppy.utils.sputils as sputils

        from ..solver import solve_lp
        from ..solver.pyomo_bridge import compile_model

        names = scenario_names_creator(kw["num_scens"])
        ef = sputils.create_EF(
            names, scenario_creator, scenario_creator_kwargs=kw, suppress_warnings=True
        )
        lp, columns = compile_model(ef)
        r = solve_lp(lp, options)
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
