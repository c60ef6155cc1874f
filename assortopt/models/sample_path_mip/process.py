"""The sample-path MIP solved in a second process (`assortopt.solver.process.Child`).

Two callers: `solve_in_process` (``mip --param isolate``: a HiGHS run that must not outlast its
time limit, README.md "Time limits") and the portfolio's rival process
(`assortopt.methods.mip_portfolio`, models/stock_bnb.md §7). Both run `serve` in the child: it
builds the model (or takes a built one), solves it with `solve_sample_path_mip` and reports
what HiGHS proves and finds while it runs:

* ``("bound", value)``: a proven bound (the LP relaxation's value, then HiGHS's dual bound),
  each time it improves (a bound held back would be lost if HiGHS then hung);
* ``("solution", x, stock)``: each improving solution (the full column vector and its stock);
* ``("done", result, stock)``: the final `SolveResult`.

The caller may send ``("plan", stock)``: HiGHS gets it, completed, as a user solution.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ...instance import Instance
from ...solver.highs import (
    OVERRUN_GRACE,
    SolveResult,
    SolverOptions,
    _keep_start_if_better,
    gap_of,
    observe,
)
from ...solver.process import Child
from ...solver.status import ERROR, FEASIBLE, Termination
from ..formulation import Formulation
from .solve import solve_sample_path_mip
from .starts import complete_start

__all__ = ["TARGET", "serve", "solve_in_process"]

#: The child's entry point, as `Child` names it.
TARGET = "assortopt.models.sample_path_mip.process:serve"
#: Seconds past its time limit the caller waits for the child's own answer before killing it
#: (on top of `OVERRUN_GRACE` of the limit): the child needs a moment to send its result.
ANSWER_S = 1.0


class _Reporter:
    """The child's `assortopt.solver.highs.RunObserver`: sends bounds and solutions, and hands
    HiGHS the caller's latest plan as a user solution."""

    def __init__(self, send: Callable[[Any], None], f: Formulation, inst: Instance) -> None:
        self.send, self.f, self.inst = send, f, inst
        self.last_bound = np.inf
        self.incoming: np.ndarray | None = None
        self.lock = threading.Lock()

    def bound(self, value: float) -> None:
        if value < self.last_bound - 1e-9 * max(1.0, abs(value)):
            self.last_bound = value
            self.send(("bound", value))

    def solution(self, x: np.ndarray) -> None:
        self.send(("solution", x, self.f.stock(x, self.inst.n)))

    def user_solution(self) -> np.ndarray | None:
        with self.lock:
            q, self.incoming = self.incoming, None
        if q is None:
            return None
        x = complete_start(self.f, self.inst, q)
        return x if self.f.lp.is_feasible(x) else None

    def listen(self, inbox: Iterator[Any]) -> None:
        for kind, q in inbox:
            if kind == "plan":
                with self.lock:
                    self.incoming = np.asarray(q, np.int64)


def serve(job: dict[str, Any], send: Callable[[Any], None], inbox: Iterator[Any]) -> None:
    """The child's work: ``job`` holds ``inst``, ``options``, ``lp_first`` and either ``f`` (a
    built, unmaterialised formulation) or ``build`` (the arguments of the strong model:
    ``stream``, ``candidates``, ``min_stock``, ``committed``), and a start, ``start_x`` (a full
    column vector) or ``start_stock`` (a plan). The time limit of ``options`` counts from when
    the caller sent the job (``sent``, wall clock): starting this process is part of it."""
    from ..committed import fix_committed
    from .formulations import build_sample_path_mip

    inst = job["inst"]
    options = job["options"]
    if options.time_limit is not None:
        used = max(0.0, time.time() - job["sent"])
        options = dataclasses.replace(options, time_limit=max(options.time_limit - used, 1e-3))
    f = job.get("f")
    if f is None:
        b = job["build"]
        f = build_sample_path_mip(
            inst, b["stream"], "strong", b["candidates"], min_stock=b["min_stock"]
        )
        fix_committed(f, b["committed"])
    rep = _Reporter(send, f, inst)
    threading.Thread(target=rep.listen, args=(inbox,), daemon=True).start()
    x0 = job.get("start_x")
    if x0 is None and job.get("start_stock") is not None:
        x0 = complete_start(f, inst, job["start_stock"])
    if x0 is not None and not f.lp.is_feasible(x0):
        x0 = None
    with observe(rep):
        res = solve_sample_path_mip(f, inst, options, start=x0, lp_first=job["lp_first"])
    send(("done", res, None if res.x is None else f.stock(res.x, inst.n)))


def solve_in_process(
    f: Formulation,
    inst: Instance,
    options: SolverOptions,
    start: np.ndarray | None = None,
    lp_first: bool = True,
) -> SolveResult:
    """`solve_sample_path_mip` in a second process, killed once the time limit has passed.

    Returns the child's own result when it answers in time; else the best solution it reported
    (never worse than a feasible ``start``) as ``feasible`` with the smallest bound it reported,
    termination ``time_limit`` and ``extra["killed"]``; a child that fails gives status
    ``error`` (or the start's plan) with its error line in the message.
    """
    if f.materialised:
        raise ValueError("a materialised model (user constraints) is solved in this process")
    t0 = time.perf_counter()
    limit = options.time_limit
    deadline = np.inf if limit is None else t0 + limit * (1.0 + OVERRUN_GRACE) + ANSWER_S
    job = {
        "f": f,
        "inst": inst,
        "options": options,
        "start_x": start,
        "lp_first": lp_first,
        "sent": time.time(),
    }
    child = Child(TARGET, job, options.verbose)
    best_x: np.ndarray | None = None
    best = -np.inf
    bound = np.inf
    final: SolveResult | None = None
    try:
        while True:
            ended = child.wait(min(deadline, time.perf_counter() + 0.2))
            for kind, *rest in child.take():
                if kind == "bound":
                    bound = min(bound, rest[0])
                elif kind == "solution":
                    val = f.lp.objective_value(rest[0])
                    if val > best:
                        best, best_x = val, rest[0]
                elif kind == "done":
                    final = rest[0]
            if ended or final is not None or time.perf_counter() >= deadline:
                break
    finally:
        child.close()
    if final is not None:
        final.time_s = time.perf_counter() - t0
        final.extra["isolated"] = True
        return final
    b = None if not np.isfinite(bound) else float(bound)
    obj = None if best_x is None else best
    failed = child.error is not None
    res = SolveResult(
        status=FEASIBLE if best_x is not None else ERROR,
        termination=Termination.ERROR if failed else Termination.TIME_LIMIT,
        objective=obj,
        bound=b,
        gap=gap_of(obj, b),
        x=best_x,
        message=(
            f"the HiGHS process failed: {child.error}"
            if failed
            else "time limit reached: the HiGHS process was stopped"
        ),
    )
    res.time_s = time.perf_counter() - t0
    res.path = "process"
    res.extra.update(isolated=True, killed=child.killed)
    if start is not None:
        _keep_start_if_better(res, f.lp, start)
        if failed:  # the warm start's plan is kept, and the failure still named
            res.message = f"the HiGHS process failed: {child.error}"
    return res
