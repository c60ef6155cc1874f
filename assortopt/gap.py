"""Mak–Morton–Wood multiple-replications confidence interval on a plan's optimality gap.

For replications r = 1..R, draw K fresh scenarios (seed ``[seed, r]``, independent of the
planning seeds), solve the SAA program on them (z*_r, its optimum) and value the plan on the
same scenarios (ẑ_r); G_r = z*_r − ẑ_r ≥ 0 (profits are maximised). E[G_r] is at least the
plan's true optimality gap in that model (the SAA optimum is biased upward), so

* ``upper`` = Ḡ + t_{R−1, α} s/√R is the MMW one-sided (1 − α) upper confidence bound;
* ``ci_low, ci_high`` = Ḡ ∓ t_{R−1, α/2} s/√R is the two-sided t-interval on E[G] (a plan far
  from optimal has ``ci_low`` > 0; for an optimal plan E[G] is only the SAA bias).

The SAA program (``model``): ``spill-mip`` (default; the fluid spill model, integer stock,
fixed costs and ``max_products``), ``saa-lp-all`` (the SAA-LP over all products: continuous
stock, no fixed costs or ``max_products``), or ``mip`` (the exact sample-path MIP: the true
profit model, small instances only). The gap is relative to that model. Write-up: models/mpi.md.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .exceptions import OptionError, SolverError
from .instance import Instance
from .ranks import guarded
from .solver import INFEASIBLE, OPTIMAL, SolverOptions, time_left

__all__ = ["GAP_MODELS", "GapEstimate", "gap_ci", "replication_gap"]

GAP_MODELS = ("spill-mip", "saa-lp-all", "mip")


@dataclass
class GapEstimate:
    """The MMW estimate (profit units; ``gaps`` G_r, ``saa`` z*_r, ``plan`` ẑ_r per replication)."""

    mean: float
    stderr: float
    upper: float
    ci_low: float
    ci_high: float
    confidence: float
    replications: int
    scenarios: int
    seed: int
    model: str
    gaps: list[float] = field(default_factory=list)
    saa: list[float] = field(default_factory=list)
    plan: list[float] = field(default_factory=list)
    not_optimal: int = 0
    #: wall seconds of `gap_ci` on rank 0, from its start to the estimate (replications,
    #: model building and, under MPI, the wait for the other ranks): what --time-limit bounds
    wall_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        rel = abs(float(np.mean(self.saa))) if self.saa else 0.0
        pct = f" ({100 * self.mean / rel:.2f}% of the SAA value)" if rel > 0 else ""
        return (
            f"gap {self.mean:.4f} ± {self.stderr:.4f}{pct}, {100 * self.confidence:g}% interval "
            f"[{self.ci_low:.4f}, {self.ci_high:.4f}], MMW upper bound {self.upper:.4f} "
            f"({self.replications} replications of {self.scenarios} scenarios, {self.model})"
        )


def _rep_seed(seed: int, r: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(r)]).generate_state(1)[0])


def _fix(lp: Any, cols: np.ndarray, values: np.ndarray) -> None:
    lp.col_lo[cols] = values
    lp.col_hi[cols] = values


def replication_gap(
    inst: Instance,
    stock: np.ndarray,
    scenarios: int,
    seed: int,
    model: str = "spill-mip",
    options: SolverOptions | None = None,
) -> tuple[float, float, bool]:
    """One replication: (z*, ẑ, proven) on ``scenarios`` scenarios drawn from ``seed``.

    z* is the SAA optimum (its proven bound when the solve stops early, so G stays an
    overestimate); ẑ the plan's value in the same model. Raises `OptionError` when the plan
    breaks a constraint the model enforces (budget, ``max_products``).

    ``options.time_limit`` covers the whole replication: in ``mip`` the SAA solve ends at two
    thirds of it and the plan is simulated; in the fluid models the plan is valued first (up
    to half of it, from the plan's sell-first second stage in ``spill-mip``), and the SAA
    solve, started from the plan, gets the rest (`time_left`).
    """
    t0 = time.perf_counter()
    options = options or SolverOptions(mip_gap=1e-6, threads=1)
    q = np.asarray(stock, dtype=np.float64)
    if model == "mip":
        from .models.sample_path_mip import build_sample_path_mip, solve_sample_path_mip
        from .sampling import sample_streams
        from .simulation import simulate_stream

        stream = sample_streams(inst, scenarios, seed)
        f = build_sample_path_mip(inst, stream)
        if f.lp.n_cols == 0:
            z = 0.0
            proven = True
        else:
            res = solve_sample_path_mip(f, inst, time_left(options, t0, 2 / 3))
            proven = res.status == OPTIMAL
            z = res.objective if proven else res.bound
        zhat = float(np.mean(simulate_stream(inst, q.astype(np.int64), stream).profits))
        if z is None or not math.isfinite(z):  # no bound either (e.g. cut before the root)
            raise OptionError("gap: the SAA solve found no solution (raise --time-limit)")
        return float(z), zhat, proven
    from .models.scenario_data import first_choice_counts

    counts = first_choice_counts(inst, None, scenarios, seed)
    ucost = inst.cost - inst.salvage
    if model == "spill-mip":
        from .models.spill_mip import build_spill_mip

        f = build_spill_mip(inst, counts)
    elif model == "saa-lp-all":
        from .models.saa_lp import build_saa_lp

        f = build_saa_lp(inst, counts)
    else:
        raise OptionError(f"gap: model must be one of {', '.join(GAP_MODELS)}, got {model!r}")
    # the plan's valuation first (it needs little time, and without it there is no estimate);
    # the SAA solve then gets the time left
    cols = f.var_blocks["stock"].cols.ravel()
    free = f.lp.col_lo.copy(), f.lp.col_hi.copy()
    hi = f.lp.col_hi[cols]
    # units beyond the model's stock bound never sell (the bound is the largest inflow): they
    # only cost
    qq = np.minimum(q, hi)
    excess = float(ucost @ (q - qq))
    _fix(f.lp, cols, qq)
    if "carry" in f.var_blocks:
        _fix(f.lp, f.var_blocks["carry"].cols.ravel(), (q > 0).astype(np.float64))
    start = None
    if model == "spill-mip":  # the plan's sell-first second stage: HiGHS may find none in time
        from .models.spill_mip import complete_start

        left = time_left(options, t0, 1 / 2).time_limit
        start = complete_start(f, qq, None if left is None else time.perf_counter() + left)
    r = f.solve(time_left(options, t0, 1 / 2), start=start)
    if r.status == INFEASIBLE:
        raise OptionError(
            f"gap: the plan is infeasible in the {model} model (budget or max_products broken?)"
        )
    if r.x is None or r.objective is None:
        raise SolverError(
            f"gap: valuing the plan in the {model} model stopped ({r.termination.value}: "
            f"{r.message or r.engine_status}); raise --time-limit"
        )
    f.lp.col_lo[:], f.lp.col_hi[:] = free
    res = f.solve(time_left(options, t0), start=r.x if f.lp.is_feasible(r.x) else None)
    proven = res.status == OPTIMAL
    z = res.objective if proven else res.bound
    if z is None or not math.isfinite(z):  # no bound either (e.g. cut before the root)
        raise OptionError("gap: the SAA solve found no solution (raise --time-limit)")
    # a valuation cut short keeps its best second stage: at most the plan's value, so the gap
    # stays an overestimate, and the replication counts as not proven
    return float(z), float(r.objective) - excess, proven and r.status == OPTIMAL


def gap_ci(
    inst: Instance,
    stock: Any,
    replications: int = 10,
    scenarios: int = 50,
    seed: int = 0,
    model: str = "spill-mip",
    confidence: float = 0.95,
    time_limit: float | None = None,
    comm: Any = None,
) -> GapEstimate | None:
    """MMW confidence interval on the optimality gap of plan ``stock`` (see the module doc).

    Parameters
    ----------
    inst, stock
        The instance and the plan (dict id → units or int array).
    replications, scenarios, seed
        R ≥ 2 replications of K ≥ 1 scenarios; replication r draws from seed ``[seed, r]``.
    model
        ``spill-mip``, ``saa-lp-all`` or ``mip``.
    confidence
        1 − α, in (0, 1).
    time_limit
        Seconds for all the replications (on each MPI rank, for its share), model building
        included: each replication gets the time left over the replications left, two thirds
        for the SAA solve (an unfinished solve contributes its bound: still valid), the rest
        for valuing the plan (a valuation cut short contributes its best second stage, at most
        the plan's value, so the gap stays an overestimate; one with no solution at all raises
        `SolverError`: no estimate is better than a wrong one). With no time left before a
        replication starts, `SolverError`.
    comm
        An MPI communicator to spread the replications over (default: ``MPI.COMM_WORLD`` when
        mpi4py is already imported, as under ``python -m mpi4py``, and has more than one
        rank). Rank 0 returns the estimate, the others None.

    Raises
    ------
    OptionError
        Bad R, K, model or confidence, or a plan that breaks the model's constraints.
    """
    from scipy import stats

    if replications < 2:
        raise OptionError(f"--replications must be >= 2, got {replications}")
    if scenarios < 1:
        raise OptionError(f"--scenarios must be >= 1, got {scenarios}")
    if model not in GAP_MODELS:
        raise OptionError(f"gap: model must be one of {', '.join(GAP_MODELS)}, got {model!r}")
    if not 0.0 < confidence < 1.0:
        raise OptionError(f"--confidence must be in (0, 1), got {confidence}")
    q = inst.stock_vector(stock)
    options = SolverOptions(time_limit=time_limit, mip_gap=1e-6, threads=1)
    if comm is None:
        import sys

        # `python -m mpi4py` (the launch line of README.md) imports mpi4py but not mpi4py.MPI:
        # without this every rank ran all replications and printed its own estimate
        if "mpi4py" in sys.modules:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    t0 = time.perf_counter()
    with guarded(comm, "a gap replication"):  # a failing rank stops them all, with its line
        mine = []
        todo = list(range(rank, replications, size))
        for i, r in enumerate(todo):
            opts = options
            if time_limit is not None:
                left = time_limit - (time.perf_counter() - t0)
                if left <= 0:
                    raise SolverError(
                        f"gap: the time limit ({time_limit:g} s) ran out after {i} of "
                        f"{len(todo)} replications; raise --time-limit"
                    )
                opts = dataclasses.replace(options, time_limit=left / (len(todo) - i))
            mine.append((r, *replication_gap(inst, q, scenarios, _rep_seed(seed, r), model, opts)))
    if size > 1:
        parts = comm.gather(mine, root=0)
        if rank != 0:
            return None
        mine = sorted(x for p in parts for x in p)
    z = np.array([m[1] for m in mine])
    zh = np.array([m[2] for m in mine])
    g = z - zh
    mean = float(g.mean())
    sd = float(g.std(ddof=1))
    se = sd / math.sqrt(replications)
    t1 = float(stats.t.ppf(confidence, replications - 1))
    t2 = float(stats.t.ppf(0.5 + confidence / 2, replications - 1))
    return GapEstimate(
        mean=mean,
        stderr=se,
        upper=mean + t1 * se,
        ci_low=mean - t2 * se,
        ci_high=mean + t2 * se,
        confidence=confidence,
        replications=replications,
        scenarios=scenarios,
        seed=seed,
        model=model,
        gaps=g.tolist(),
        saa=z.tolist(),
        plan=zh.tolist(),
        not_optimal=int(sum(not m[3] for m in mine)),
        wall_s=time.perf_counter() - t0,
    )
