"""Progressive hedging on mpi-sppy's wheel: a PH hub with linearised proximal terms, an
xhatshuffle inner-bound spoke and, with a multiple of 3 ranks, a Lagrangian outer-bound spoke,
so the reported gap is certified (models/mpi.md)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..instance import Instance
from ..solver import ERROR, FEASIBLE, OPTIMAL, SolverOptions, gap_of
from ..solver.status import Termination
from . import contract
from .comm import guarded
from .result import MPIResult, out_of_time

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


#: Safety factor on the priced build and rounds: under load the ranks' own probes priced the
#: run 1.5-2 times low (mnl-n50-t100, saa-lp-all, L = 20 s, 2 ranks, load 3-6: 29.95 s).
PRICE_SAFETY = 1.5


def _probe(
    names: list[str], kw: dict[str, Any], options: SolverOptions, t0: float, local: int
) -> tuple[float, float, str]:
    """(seconds to build one scenario model, seconds to compile and solve it by HiGHS, "") or,
    when ``local`` scenario models cannot be built in the time left even at Pyomo's fastest
    (`build_seconds`), (inf, inf, the reason).

    Solved with the thread count mpi-sppy's solves use (`_cfg`): HiGHS sizes one task
    scheduler per process at its first run, and a later run asking for another thread count
    fails (mpi-sppy's scenario solves then ended with status unknown).
    """
    from ..solver import solve_lp
    from ..solver.pyomo_bridge import compile_model
    from .ef import OutOfTime, build_seconds

    left = options.time_limit - (time.perf_counter() - t0) if options.time_limit else None
    try:
        per_build, _ = build_seconds(names, kw, local, left)
    except OutOfTime as exc:
        return float("inf"), float("inf"), str(exc)
    # each probe solve gets a quarter of the time left: one cut there prices a round too long
    left = options.time_limit - (time.perf_counter() - t0) if options.time_limit else None
    if left is not None and left <= 0:
        return per_build, float("inf"), ""
    options = replace(
        options,
        threads=int(options.threads or 1),
        time_limit=None if left is None else left / 4,
    )
    took = []
    for name in names[:2]:  # the faster of two: the first solve also warms HiGHS up
        m = contract.scenario_creator(name, **kw)
        t = time.perf_counter()
        lp, _ = compile_model(m)
        solve_lp(lp, options)
        took.append(time.perf_counter() - t)
    return per_build, min(took), ""


def _budget(
    comm: Any, names: list[str], kw: dict[str, Any], options: SolverOptions, t0: float
) -> tuple[float | None, float, str]:
    """PH's own time limit (from its start, now) so that the wheel ends by ``t0`` + the limit,
    or None when the scenario models and two rounds of scenario solves (PH's iteration 0 and
    one inner-bound evaluation) would not fit; then the priced round's seconds and the reason.

    mpi-sppy checks its limit only between PH iterations and every cylinder finishes its round
    of scenario solves after that, so the limit given to it is the time left less 2 rounds,
    priced collectively from one scenario model built and solved on every rank (the slowest),
    times `PRICE_SAFETY`.
    """
    limit = options.time_limit
    assert limit is not None
    size = comm.Get_size()
    cylinders = 3 if size % 3 == 0 else 2
    local = math.ceil(len(names) / max(size // cylinders, 1))  # scenarios a rank holds
    probe = _probe(names, kw, options, t0, local)
    got = comm.allgather((*probe, t0 + limit - time.perf_counter()))
    per_build = max(g[0] for g in got)
    per_solve = max(g[1] for g in got)
    left = min(g[3] for g in got)
    floor = next((g[2] for g in got if g[2]), "")
    if floor:
        return None, float("inf"), f"per rank, {floor}"
    build, rnd = PRICE_SAFETY * local * per_build, PRICE_SAFETY * local * per_solve
    why = f"build {build:.2f} s, round {rnd:.2f} s, left {left:.2f} s"
    if build + 2 * rnd > left:
        return (
            None,
            rnd,
            (
                f"{local} scenario models per rank would take about {build:.1f} s to build and "
                f"a round of their solves {rnd:.1f} s (one: {per_build:.3f} s and "
                f"{per_solve:.3f} s, times {PRICE_SAFETY:g} for safety); PH needs the build "
                f"and two rounds, {max(left, 0):.1f} s of the time limit were left"
            ),
        )
    return max(left - 2 * rnd - 0.05 * limit, 1e-3), rnd, why


#: PH's first iteration (W and proximal terms in every scenario objective) priced at this many
#: times iteration 0: on chocolate (spill-mip, K = 100, 2 ranks) 9.3 s after 3.5 s.
ITERK_OVER_ITER0 = 3.0


class _Deadline:
    """Set by `run_wheel`: the perf_counter time by which PH's hub must have stopped."""

    end: float = float("inf")
    #: set on a hub rank when the extension stopped PH (rank 0 is a hub rank)
    hit: bool = False


def _deadline_extension() -> type:
    """An mpi-sppy extension stopping the PH hub before an iteration that would end past
    `_Deadline.end`, priced by the last iteration's wall time (1.2 times it; for the first,
    `ITERK_OVER_ITER0` times iteration 0's). mpi-sppy checks its time limit right after the
    ``miditer`` hook: the hook lowers that limit, so the hub stops there instead of running
    the iteration."""
    from mpisppy.extensions.extension import Extension

    class DeadlineExtension(Extension):
        def __init__(self, ph: Any) -> None:
            super().__init__(ph)
            self.mark: float | None = None
            self.round = 0.0

        def pre_iter0(self) -> None:
            self.mark = time.perf_counter()

        def post_iter0(self) -> None:
            now = time.perf_counter()
            self.round = ITERK_OVER_ITER0 * (now - (self.mark or now))
            self.mark = None

        def miditer(self) -> None:
            now = time.perf_counter()
            if self.mark is not None:  # from the previous miditer: one whole iteration
                self.round = now - self.mark
            self.mark = now
            end = _Deadline.end - 1.2 * self.round
            self.opt.options["time_limit"] = max(end - self.opt.start_time, 0.0)
            _Deadline.hit = now >= end

    return DeadlineExtension


def _refused(comm: Any, how: str, why: str) -> MPIResult | None:
    if comm.Get_rank() != 0:
        return None
    return out_of_time(how, comm.Get_size(), f"{how}: not started: {why}")


def run_wheel(
    comm: Any,
    kw: dict[str, Any],
    options: SolverOptions,
    prm: dict[str, Any],
    how: str,
    t0: float | None = None,
) -> MPIResult | None:
    """PH via WheelSpinner: hub + xhatshuffle spoke, + Lagrangian spoke when P % 3 == 0.

    Under ``options.time_limit`` (counted from ``t0``, perf_counter) the run is priced first
    (`_budget`): refused (``error``, termination ``time_limit``) when it cannot fit, else
    mpi-sppy gets the time left less two priced rounds, the hub stops before an iteration that
    would end past the limit less a round for the spokes (`_deadline_extension`, timed on the
    iterations themselves), and every scenario solve gets at most the time left.
    """
    import mpisppy.utils.cfg_vanilla as vanilla
    from mpisppy.spin_the_wheel import WheelSpinner

    t0 = time.perf_counter() if t0 is None else t0
    size = comm.Get_size()
    names = contract.scenario_names_creator(kw["num_scens"])
    ph_limit, why = None, ""
    if options.time_limit is not None:
        with guarded(comm, "pricing the PH run"):
            ph_limit, rnd, why = _budget(comm, names, kw, options, t0)
        if ph_limit is None:
            return _refused(comm, how, why)
        # the hub stops in time for the spokes to finish a round of their own
        _Deadline.end, _Deadline.hit = t0 + 0.95 * options.time_limit - rnd, False
        left = max(t0 + options.time_limit - time.perf_counter(), 1e-3)
        options = replace(options, time_limit=left)  # each scenario solve: at most the time left
    cfg = _cfg(options, prm, kw["num_scens"])
    cfg.time_limit = ph_limit
    t_spin = time.perf_counter()
    beans = (cfg, contract.scenario_creator, contract.scenario_denouement, names)
    data = contract.scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    hub = vanilla.ph_hub(
        *beans,
        scenario_creator_kwargs=kw,
        rho_setter=_rho_setter(data.inst, prm["rho"]),
        ph_extensions=_deadline_extension() if ph_limit is not None else None,
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
    spin_s = time.perf_counter() - t_spin
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
    stopped = (
        Termination.TIME_LIMIT
        if ph_limit is not None and (_Deadline.hit or time.perf_counter() - t_spin >= ph_limit)
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
        extra={"cylinders": cylinders, "priced": why, "ph_time_limit": ph_limit, "spin_s": spin_s},
    )
