"""The SAA-LP by the project's L-shaped decomposition with its exact scenario LPs spread over
the ranks (``saa-lp-all`` only; models/mpi.md)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..solver import ERROR, FEASIBLE, OPTIMAL, SolverOptions, gap_of
from . import contract
from .result import MPIResult

__all__ = ["RankScenarios", "run_lshaped"]


class RankScenarios:
    """`ExactScenarios` for rank 0: the exact scenario LPs of the L-shaped run spread over the
    ranks. Unique scenario j is solved on rank j % P, which keeps its HiGHS instance warm."""

    def __init__(self, comm: Any, local: Any) -> None:
        self.comm = comm
        self.local = local
        self.solved = np.zeros(comm.Get_size(), np.int64)  # exact solves per rank

    def solve(
        self, q: np.ndarray, which: np.ndarray, deadline: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        # clocks are per node: send the time left, not the deadline
        left = None if deadline is None else deadline - time.perf_counter()
        self.comm.bcast((q, which, left), root=0)
        parts = self.comm.gather(_own_share(self.comm, self.local, q, which, left), root=0)
        m = len(q)
        done, val = np.zeros(len(which), bool), np.zeros(len(which))
        pi, mu, sales = (np.zeros((len(which), m)) for _ in range(3))
        its = 0
        for r, (at, d_, v, p, u, s, n) in enumerate(parts):
            done[at], val[at], pi[at], mu[at], sales[at] = d_, v, p, u, s
            its += n
            self.solved[r] += int(d_.sum())
        return done, val, pi, mu, sales, its


def _own_share(
    comm: Any, local: Any, q: np.ndarray, which: np.ndarray, left: float | None
) -> tuple[Any, ...]:
    """This rank's part of an exact solve request: (positions in ``which``, results...)."""
    at = np.flatnonzero(which % comm.Get_size() == comm.Get_rank())
    deadline = None if left is None else time.perf_counter() + left
    done, val, pi, mu, sales, its = local.solve(q, which[at], deadline)
    return at, done, val, pi, mu, sales, its


def run_lshaped(
    comm: Any, kw: dict[str, Any], options: SolverOptions, prm: dict[str, Any], t0: float
) -> MPIResult | None:
    """The SAA-LP by the project's L-shaped decomposition (`assortopt.models.saa_decomposition`)
    with its exact scenario solves spread over the ranks; master and mat-vec oracle on rank 0.

    Every rank draws the same counts and merges the same duplicate scenarios, so a scenario's
    index means the same on every rank; only stock vectors and duals travel.
    """
    from ..models.saa_decomposition import LocalScenarios, merge_scenarios
    from ..models.saa_lp import decomposition_chain, solve_saa_lp

    data = contract.scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    inst = data.inst
    assert data.counts is not None
    chain, rev = decomposition_chain(inst, np.arange(inst.n))
    sub = SolverOptions(threads=options.threads, highs=options.highs)
    local = LocalScenarios(chain, rev, merge_scenarios(data.counts)[0], sub)
    if comm.Get_rank() != 0:
        while (msg := comm.bcast(None, root=0)) is not None:
            comm.gather(_own_share(comm, local, *msg), root=0)
        return None
    left = None
    if options.time_limit is not None:  # the limit counts from the start of solve_mpi
        left = max(t0 + options.time_limit - time.perf_counter(), 1e-3)
    opts = SolverOptions(
        time_limit=left, threads=options.threads, verbose=options.verbose, highs=options.highs
    )
    exact = RankScenarios(comm, local)
    try:
        r = solve_saa_lp(
            inst,
            data.counts,
            None,
            opts,
            method="decomposition",
            tol=float(prm["rel_gap"]),
            exact=exact,
            max_iter=int(prm["iterations"]),
        )
    finally:
        comm.bcast(None, root=0)  # release the other ranks
    st = r.extra["stats"]
    bound = float(st.upper) if np.isfinite(st.upper) else None
    ok = r.status == OPTIMAL
    # the decomposition's incumbent is always feasible; cut before its first one, there is none
    has = bool(np.isfinite(r.objective))
    return MPIResult(
        status=OPTIMAL if ok else (FEASIBLE if has else ERROR),
        termination=r.termination,
        stock=r.stock_frac if has else None,
        objective=float(r.objective) if has else None,
        bound=bound,
        gap=gap_of(r.objective, bound) if has else None,
        decomposition="lshaped",
        ranks=comm.Get_size(),
        time_s=0.0,
        message="" if ok else f"lshaped: {r.message or 'no incumbent within the time limit'}",
        extra={
            "iterations": st.iterations,
            "exact_solves": st.exact_solves,
            "exact_solves_per_rank": exact.solved.tolist(),
            "cuts": st.cuts,
            "scenario_s": round(st.sub_s, 3),
            "master_s": round(st.master_s, 3),
            "scenarios_unique": st.scenarios_unique,
        },
    )
