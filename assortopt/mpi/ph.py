"""Progressive hedging on mpi-sppy's wheel: a PH hub with linearised proximal terms, an
xhatshuffle inner-bound spoke and, with a multiple of 3 ranks, a Lagrangian outer-bound spoke,
so the reported gap is certified (models/mpi.md)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..instance import Instance
from ..solver import ERROR, FEASIBLE, OPTIMAL, SolverOptions, gap_of
from ..solver.status import Termination
from . import contract
from .comm import guarded
from .result import MPIResult

__all__ = ["run_wheel"]

_PYOMO_SOLVER = "highs"


def _cfg(options: SolverOptions, prm: dict[str, Any], num_scens: int) -> Any:
    from mpisppy.utils import config

    cfg = config.Config()
    cfg.num_scens_required()
    cfg.popular_args()
    cfg.two_sided_args()
    cfg.ph_args()
    cfg.lagrangian_args()
    cfg.xhatshuffle_args()
    cfg.num_scens = num_scens
    cfg.solver_name = _PYOMO_SOLVER
    cfg.default_rho = 1.0
    cfg.max_iterations = int(prm["iterations"])
    cfg.rel_gap = float(prm["rel_gap"])
    cfg.abs_gap = 0.0
    cfg.linearize_proximal_terms = True
    cfg.linearize_binary_proximal_terms = True
    cfg.time_limit = options.time_limit
    cfg.max_solver_threads = int(options.threads or 1)
    # HiGHS's own log would go to file descriptor 1, past the stdout redirect: progress is
    # mpi-sppy's display_progress
    native = {k: v for k, v in options.native().items() if k != "output_flag"}
    cfg.solver_options = " ".join(f"{k}={v}" for k, v in native.items())
    cfg.display_progress = bool(options.verbose)
    return cfg


def _rho_setter(inst: Instance, factor: float) -> Any:
    """PH penalty per first-stage variable: ``factor``·(net unit cost) for stock (at least 1%
    of the price), ``factor``·max(fixed cost, 1) for carry binaries."""
    ucost = np.maximum(inst.cost - inst.salvage, 0.01 * inst.price)
    by_id = dict(zip(inst.ids, ucost, strict=True))
    fixed = dict(zip(inst.ids, np.maximum(inst.fixed_cost, 1.0), strict=True))

    def setter(scenario: Any, **_kw: Any) -> list[tuple[Any, float]]:
        out = []
        for node in scenario._mpisppy_node_list:
            for v in node.nonant_vardata_list:
                key = v.index()
                name = v.parent_component().local_name
                base = fixed[key] if "carry" in name else by_id[key]
                out.append((id(v), float(factor * base)))
        return out

    return setter


def run_wheel(
    comm: Any, kw: dict[str, Any], options: SolverOptions, prm: dict[str, Any], how: str
) -> MPIResult | None:
    """PH via WheelSpinner: hub + xhatshuffle spoke, + Lagrangian spoke when P % 3 == 0."""
    import mpisppy.utils.cfg_vanilla as vanilla
    from mpisppy.spin_the_wheel import WheelSpinner

    t0 = time.perf_counter()
    size = comm.Get_size()
    names = contract.scenario_names_creator(kw["num_scens"])
    cfg = _cfg(options, prm, kw["num_scens"])
    beans = (cfg, contract.scenario_creator, contract.scenario_denouement, names)
    data = contract.scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    hub = vanilla.ph_hub(
        *beans, scenario_creator_kwargs=kw, rho_setter=_rho_setter(data.inst, prm["rho"])
    )
    spokes: list[dict[str, Any]] = []
    if size % 3 == 0:
        spokes.append(vanilla.lagrangian_spoke(*beans, scenario_creator_kwargs=kw))
    spokes.append(vanilla.xhatshuffle_spoke(*beans, scenario_creator_kwargs=kw))
    cylinders = "ph hub + " + " + ".join(
        ["lagrangian", "xhatshuffle"] if size % 3 == 0 else ["xhatshuffle"]
    )
    wheel = WheelSpinner(hub, spokes)
    wheel.spin()
    captured: dict[str, float] = {}

    def capture(_file: str, scenario: Any, bundling: bool) -> None:
        block = scenario
        captured["__ok__"] = 1.0
        q = contract.stock_from_block(block, kw, lambda v: v.value if v.value is not None else 0.0)
        for i, x in enumerate(q):
            captured[str(i)] = float(x)

    # without an incumbent mpi-sppy calls no writer: `captured` stays empty (reported below)
    with guarded(comm, "reading PH's first-stage solution"):
        wheel.write_first_stage_solution("unused.csv", first_stage_solution_writer=capture)
    got = comm.gather(captured or None, root=0)
    inner = comm.bcast(wheel.BestInnerBound if comm.Get_rank() == 0 else None, root=0)
    outer = comm.bcast(wheel.BestOuterBound if comm.Get_rank() == 0 else None, root=0)
    if comm.Get_rank() != 0:
        return None
    sol = next((g for g in got if g), None)
    stock = None
    if sol is not None:
        stock = np.array([sol[str(i)] for i in range(data.inst.n)], dtype=np.float64)
    inner_f = float(inner) if inner is not None and np.isfinite(inner) else None
    outer_f = float(outer) if outer is not None and np.isfinite(outer) else None
    gap = gap_of(inner_f, outer_f)
    limit = options.time_limit
    stopped = (
        Termination.TIME_LIMIT
        if limit is not None and time.perf_counter() - t0 >= 0.9 * limit
        else Termination.ITERATION_LIMIT
    )
    if stock is None or inner_f is None:
        status, term = ERROR, stopped
        msg = f"{how}: no feasible first stage was found"
    elif gap is not None and gap <= prm["rel_gap"] + 1e-12:
        status, term, msg = OPTIMAL, Termination.GAP_LIMIT, ""
    else:
        status, term, msg = FEASIBLE, stopped, f"{how}: stopped at certified gap {gap}"
    return MPIResult(
        status=status,
        termination=term,
        stock=stock,
        objective=inner_f,
        bound=outer_f,
        gap=gap,
        decomposition=how,
        ranks=size,
        time_s=0.0,
        message=msg,
        extra={"cylinders": cylinders},
    )
