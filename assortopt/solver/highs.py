"""HiGHS control in one place: options, incumbents, bounds and gaps.

Every LP and MIP assortopt solves goes through `solve_lp` (the fast path: arrays straight into
highspy) or `assortopt.solver.pyomo_bridge.solve_pyomo` (Pyomo's own HiGHS interface). Both
return the same `SolveResult`, whose status and termination come from
`assortopt.solver.status`.

HiGHS option names: https://ergo-code.github.io/HiGHS/dev/options/definitions/
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..exceptions import OptionError
from .linear import LinearProgram
from .status import ERROR, FEASIBLE, OPTIMAL, Termination, from_highs

log = logging.getLogger("assortopt.solver")


@dataclass(frozen=True)
class SolverOptions:
    """Common solver knobs, plus native HiGHS options passed through unchanged.

    Attributes
    ----------
    time_limit
        Wall-clock seconds for the solve (None: no limit). On a limit the best incumbent is
        returned with status ``feasible``.
    mip_gap
        Relative MIP gap at which to stop (HiGHS ``mip_rel_gap``); default 1e-4 (0.01%).
    threads
        HiGHS threads (None: HiGHS decides). Changing it between solves resets HiGHS's global
        scheduler, which otherwise keeps the first thread count per OS thread.
    verbose
        Show the HiGHS log.
    lp_method
        ``"simplex"`` (default; LP optima are vertices), ``"ipm"`` or ``"pdlp"``.
    highs
        Native HiGHS options; an explicit native key wins over the common knobs above.
    """

    time_limit: float | None = None
    mip_gap: float = 1e-4
    threads: int | None = None
    verbose: bool = False
    lp_method: str = "simplex"
    highs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time_limit is not None and not (self.time_limit > 0):
            raise OptionError(f"time limit must be > 0 seconds, got {self.time_limit}")
        if not (0 <= self.mip_gap < 1):
            raise OptionError(f"mip gap must be in [0, 1), got {self.mip_gap}")
        if self.threads is not None and self.threads < 1:
            raise OptionError(f"threads must be >= 1, got {self.threads}")
        if self.lp_method not in ("simplex", "ipm", "pdlp", "choose"):
            raise OptionError(f"unknown lp_method {self.lp_method!r}")

    def native(self) -> dict[str, Any]:
        """The HiGHS option dict these settings stand for."""
        opts: dict[str, Any] = {
            "output_flag": bool(self.verbose),
            "mip_rel_gap": float(self.mip_gap),
            "solver": self.lp_method,
        }
        if self.time_limit is not None:
            opts["time_limit"] = float(self.time_limit)
        if self.threads is not None:
            opts["threads"] = int(self.threads)
        opts.update(self.highs)
        return opts


@dataclass
class SolveResult:
    """What a solve produced, whichever path it took.

    ``objective`` is the incumbent's objective in the model's own sense (with its constant),
    ``bound`` the best proven bound on it, ``gap`` their relative gap (0 for a proven optimum).
    ``x`` holds the column values of the incumbent (None when there is none). ``status`` and
    ``termination`` are those of `assortopt.solver.status`; ``engine_status`` is the solver's
    own word (HiGHS's model status string).
    """

    status: str
    termination: Termination
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    x: np.ndarray | None = None
    time_s: float = 0.0
    path: str = "fast"
    message: str = ""
    nodes: int | None = None
    iterations: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    engine_status: str = ""

    @property
    def has_incumbent(self) -> bool:
        return self.x is not None

    def summary(self) -> str:
        parts = [f"status={self.status}", f"termination={self.termination.value}"]
        if self.objective is not None:
            parts.append(f"objective={self.objective:.6g}")
        if self.bound is not None:
            parts.append(f"bound={self.bound:.6g}")
        if self.gap is not None:
            parts.append(f"gap={100 * self.gap:.3g}%")
        parts.append(f"time={self.time_s:.2f}s via {self.path}")
        return " ".join(parts)


#: A phase started after others always gets at least this fraction of the whole time limit,
#: so a limit is overrun by at most about that much (README, "Time limits").
MIN_PHASE_FRACTION = 0.05


def time_left(options: SolverOptions, t0: float, deadline_fraction: float = 1.0) -> SolverOptions:
    """``options`` with the time limit cut to what is left of it since ``t0`` (perf_counter).

    Every method or builder that runs phases one after another (a warm start, an LP relaxation,
    then the MIP) passes the rest of its limit on through here. ``deadline_fraction`` < 1 ends
    the phase earlier (at that fraction of the whole limit, from ``t0``). The rest is floored
    at `MIN_PHASE_FRACTION` of the limit, so a phase can always run.
    """
    if options.time_limit is None:
        return options
    limit = options.time_limit
    left = deadline_fraction * limit - (time.perf_counter() - t0)
    return dataclasses.replace(options, time_limit=max(left, MIN_PHASE_FRACTION * limit))


# ------------------------------------------------------------------------- threads
_local = threading.local()


def _ensure_scheduler(h: Any, threads: int | None) -> None:
    """HiGHS keeps one task scheduler per OS thread, sized at first use; resize on change."""
    want = threads if threads is not None else 0
    have = getattr(_local, "threads", None)
    if have is not None and have != want:
        h.resetGlobalScheduler(True)
    _local.threads = want


# ------------------------------------------------------------------------- gaps
def gap_of(objective: float | None, bound: float | None) -> float | None:
    """Relative gap |bound − objective| / max(1, |objective|), HiGHS-style."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(bound - objective) / max(1.0, abs(objective))


_banner_done = False


def new_highs() -> Any:
    """A silent ``highspy.Highs``. HiGHS prints a banner to stdout (fd 1) on its first
    construction in a process, which would corrupt JSON written to stdout: swallow it once."""
    global _banner_done
    import os
    import sys

    import highspy

    if not _banner_done:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_done = True
    else:
        h = highspy.Highs()
    h.silent()
    return h


def highs_from_lp(lp: LinearProgram, options: SolverOptions) -> Any:
    """A ``highspy.Highs`` loaded with ``lp`` (one vectorised ``passModel``) and ``options`` set."""
    import highspy

    h = new_highs()
    _ensure_scheduler(h, options.threads)
    for k, v in options.native().items():
        h.setOptionValue(k, v)
    hl = highspy.HighsLp()
    n, m = lp.n_cols, lp.n_rows
    hl.num_col_ = n
    hl.num_row_ = m
    hl.col_cost_ = lp.c
    hl.col_lower_ = lp.col_lo
    hl.col_upper_ = lp.col_hi
    hl.row_lower_ = lp.row_lo
    hl.row_upper_ = lp.row_hi
    hl.offset_ = float(lp.offset)
    hl.sense_ = highspy.ObjSense.kMaximize if lp.sense == "max" else highspy.ObjSense.kMinimize
    A = lp.A
    hl.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    hl.a_matrix_.start_ = A.indptr.astype(np.int32)
    hl.a_matrix_.index_ = A.indices.astype(np.int32)
    hl.a_matrix_.value_ = A.data.astype(np.float64)
    hl.a_matrix_.num_col_ = n
    hl.a_matrix_.num_row_ = m
    if lp.integer is not None and lp.integer.any():
        hl.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
            for f in lp.integer
        ]
    h.passModel(hl)
    return h


def solve_lp(
    lp: LinearProgram,
    options: SolverOptions | None = None,
    start: np.ndarray | None = None,
    write: str | None = None,
) -> SolveResult:
    """Solve an array-form LP/MIP with HiGHS (the fast path).

    ``start`` is a full column vector used as a MIP start; an infeasible start is ignored by
    HiGHS. ``write`` names an ``.mps`` or ``.lp`` file to write the model to before solving.
    """
    options = options or SolverOptions()
    t0 = time.perf_counter()
    h = highs_from_lp(lp, options)
    if write:
        _write_model(h, write)
    if start is not None and lp.is_mip:
        import highspy

        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    run(h, options, since=t0)
    return _collect(h, lp, t0, "fast", start=start)


#: How far past its time limit a HiGHS run may go before it is interrupted from outside.
OVERRUN_GRACE = 0.02


def run(h: Any, options: SolverOptions, since: float | None = None) -> None:
    """``h.run()`` with the time limit enforced from outside as well.

    ``since`` (a `time.perf_counter` instant, default now) is when the limit started: the
    caller's loading of the model (``passModel``, seconds on a large model) counts against it,
    so HiGHS's own ``time_limit`` is cut to what is left and the outside deadline counts from
    ``since``.

    HiGHS checks ``time_limit`` only at some points (not inside presolve or a long simplex
    phase, as measured in README, "Time limits"); its interrupt callbacks are asked often, so
    they stop the run once the wall clock passes the limit (plus `OVERRUN_GRACE` of it). The
    run then ends with model status ``Interrupt``, which `from_highs` reports, and this
    function records the cause on ``h`` so `_collect` can call it a time limit.
    """
    global _running, _interrupt_requested
    limit = options.time_limit
    obs = _observer
    if limit is None and not _watching and obs is None:
        h.run()
        return
    import highspy

    if since is None:
        since = time.perf_counter()
    elif limit is not None and "time_limit" not in options.highs:
        # what is left after the model was loaded (never 0: HiGHS then refuses to start)
        h.setOptionValue("time_limit", max(limit - (time.perf_counter() - since), 1e-3))
    deadline = math.inf if limit is None else since + limit * (1.0 + OVERRUN_GRACE) + 0.05
    fired: list[bool] = []

    cb = highspy.cb.HighsCallbackType

    def stop(kind: Any, message: str, data_out: Any, data_in: Any, user: Any) -> None:
        if obs is not None:
            if kind == cb.kCallbackMipImprovingSolution:
                obs.solution(np.array(data_out.mip_solution, dtype=np.float64))
            elif kind == cb.kCallbackMipUserSolution:
                x = obs.user_solution()
                if x is not None:
                    data_in.setSolution(np.asarray(x, dtype=np.float64))
            elif kind == cb.kCallbackMipInterrupt:
                obs.bound(float(data_out.mip_dual_bound))
        if _interrupt_requested:
            data_in.user_interrupt = True
        elif time.perf_counter() > deadline:
            data_in.user_interrupt = True
            if not fired:
                fired.append(True)

    kinds: tuple[Any, ...] = (
        cb.kCallbackSimplexInterrupt,
        cb.kCallbackIpmInterrupt,
        cb.kCallbackMipInterrupt,
    )
    if obs is not None:
        kinds += (cb.kCallbackMipImprovingSolution, cb.kCallbackMipUserSolution)
    h.setCallback(stop, None)
    for k in kinds:
        h.startCallback(k)
    _running += 1
    try:
        h.run()
    finally:
        _running -= 1
        for k in kinds:
            h.stopCallback(k)
    h.assortopt_deadline_hit = bool(fired)
    if _interrupt_requested and not _running:
        _interrupt_requested = False
        raise KeyboardInterrupt


class RunObserver(Protocol):
    """What `observe` hands the MIP runs of this process to: their proven bounds (asked often,
    in the objective's own sense), each improving solution (the full column vector), and a
    solution to try (a full column vector, or None), offered when HiGHS asks for one."""

    def bound(self, value: float) -> None: ...

    def solution(self, x: np.ndarray) -> None: ...

    def user_solution(self) -> np.ndarray | None: ...


#: The observer of every HiGHS run in this process (`observe`), or None.
_observer: RunObserver | None = None


@contextlib.contextmanager
def observe(observer: RunObserver) -> Iterator[None]:
    """Let ``observer`` follow the MIP runs inside the block (a process that races a HiGHS
    model against another search uses it: `assortopt.methods.mip_portfolio`)."""
    global _observer
    before, _observer = _observer, observer
    try:
        yield
    finally:
        _observer = before


def report_bound(value: float) -> None:
    """Pass a bound proven outside a MIP run (an LP relaxation's value) to the observer."""
    if _observer is not None:
        _observer.bound(value)


def report_solution(x: np.ndarray) -> None:
    """Pass a solution found outside a MIP run (an integral LP vertex) to the observer."""
    if _observer is not None:
        _observer.solution(x)


#: HiGHS runs in progress, and whether a signal asked them to stop (`request_interrupt`).
_running = 0
_interrupt_requested = False
#: Whether runs without a time limit get the interrupt callback too (`watch_interrupts`).
_watching = False


def watch_interrupts(on: bool = True) -> None:
    """Give every HiGHS run the interrupt callback, so `request_interrupt` can stop it (the
    command line turns this on; a library caller without signal handlers need not pay for it)."""
    global _watching
    _watching = on


def request_interrupt() -> bool:
    """Ask the HiGHS run in progress to stop; it then raises ``KeyboardInterrupt`` once HiGHS
    has returned. For a signal handler: while HiGHS runs, Python code runs only inside its
    callbacks, where an exception cannot pass through HiGHS. False when no run is in progress
    (the handler then raises ``KeyboardInterrupt`` itself)."""
    global _interrupt_requested
    if _running:
        _interrupt_requested = True
        return True
    return False


def _write_model(h: Any, path: str) -> None:
    if not (path.endswith(".mps") or path.endswith(".lp")):
        raise OptionError(f"--write-model: {path}: the file name must end in .mps or .lp")
    h.writeModel(path)


def outcome(h: Any) -> tuple[str, Termination, str]:
    """(status, termination, message) of a finished `run`: `from_highs` on HiGHS's model status,
    with an interrupt that `run` raised at the deadline reported as the time limit it is."""
    ms = h.getModelStatus()
    name = h.modelStatusToString(ms)
    status, termination, msg = from_highs(ms, h.getInfo().primal_solution_status == 2, name)
    if termination is Termination.INTERRUPTED and getattr(h, "assortopt_deadline_hit", False):
        termination = Termination.TIME_LIMIT
        msg = msg.replace(name, "time limit reached")
    return status, termination, msg


def _collect(
    h: Any, lp: LinearProgram, t0: float, path: str, start: np.ndarray | None = None
) -> SolveResult:
    info = h.getInfo()
    has_primal = info.primal_solution_status == 2
    status, termination, msg = outcome(h)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_primal else None
    obj = float(info.objective_function_value) if has_primal else None
    bound: float | None = None
    if lp.is_mip:
        b = float(info.mip_dual_bound)
        bound = b if math.isfinite(b) else None
        if status == OPTIMAL and gap_of(obj, bound) not in (None, 0.0):
            termination = Termination.GAP_LIMIT  # HiGHS stops at mip_rel_gap
    elif status == OPTIMAL:
        bound = obj
    res = SolveResult(
        status=status,
        termination=termination,
        objective=obj,
        bound=bound,
        gap=(0.0 if (status == OPTIMAL and not lp.is_mip) else gap_of(obj, bound)),
        x=x if status in (OPTIMAL, FEASIBLE) else None,
        time_s=time.perf_counter() - t0,
        path=path,
        message=msg,
        nodes=int(info.mip_node_count) if lp.is_mip else None,
        iterations=int(info.simplex_iteration_count),
        engine_status=h.modelStatusToString(h.getModelStatus()),
    )
    if start is not None and lp.is_mip:
        _keep_start_if_better(res, lp, start)
    return res


def _keep_start_if_better(res: SolveResult, lp: LinearProgram, start: np.ndarray) -> None:
    """A time-limited MIP never returns a worse plan than a feasible warm start."""
    if not lp.is_feasible(start):
        return
    val = lp.objective_value(start)
    better = (res.objective is None) or (
        val > res.objective + 1e-9 if lp.sense == "max" else val < res.objective - 1e-9
    )
    if better:
        res.x = np.asarray(start, dtype=np.float64)
        res.objective = val
        res.gap = gap_of(val, res.bound)
        if res.status == ERROR:
            res.status = FEASIBLE
            res.message = "no better solution than the warm start was found"
