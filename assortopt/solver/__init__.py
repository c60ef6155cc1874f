"""The solver layer: array LPs, HiGHS control, the status model and the Pyomo bridge.

`assortopt.solver.linear` (`LinearProgram`, `LPBuilder`), `assortopt.solver.highs` (options,
`solve_lp`, `SolveResult`), `assortopt.solver.status` (what a result holds and why it stopped),
`assortopt.solver.pyomo_bridge` (a Pyomo model to HiGHS). The common names are re-exported here.
"""

from .highs import (
    SolveResult,
    SolverOptions,
    gap_of,
    highs_from_lp,
    new_highs,
    solve_lp,
    time_left,
)
from .linear import INF, LinearProgram, LPBuilder, VarBlock
from .status import ERROR, FEASIBLE, HEURISTIC, INFEASIBLE, OPTIMAL, STATUSES, Termination

__all__ = [
    "ERROR",
    "FEASIBLE",
    "HEURISTIC",
    "INF",
    "INFEASIBLE",
    "OPTIMAL",
    "STATUSES",
    "LPBuilder",
    "LinearProgram",
    "SolveResult",
    "SolverOptions",
    "Termination",
    "VarBlock",
    "gap_of",
    "highs_from_lp",
    "new_highs",
    "solve_lp",
    "time_left",
]
