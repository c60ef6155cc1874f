"""MPI scale-out with mpi-sppy: the two-stage SAA programs as mpi-sppy scenario models.

Launch line (the ``[mpi]`` extra installs mpi-sppy, mpi4py and the ``mpich`` wheel)::

    mpiexec -n P python -m mpi4py -m assortopt solve INSTANCE --method spill-mip --mpi \
        --decomposition ph --scenarios 200 --seed 0 --output plan.json

The module contract of mpi-sppy (``scenario_names_creator``, ``scenario_creator``,
``kw_creator``, ``inparser_adder``, ``scenario_denouement``) is implemented for three formulations:

``saa-lp-all``
    the SAA-LP over every product (`assortopt.models.saa_lp.build_saa_lp`), first stage = stock;
``spill-mip``
    the spill MIP (`assortopt.models.spill_mip.build_spill_mip`), first stage = integer stock
    (and the ``carry`` binaries when fixed costs or ``max_products`` need them);
``mip``
    the exact sample-path MIP (`assortopt.models.sample_path_mip.build_sample_path_mip`), first
    stage = integer stock (and ``carry``) on the products some scenario can sell.

Scenario k's model is the project's builder applied to scenario k's data alone (K = 1), made
inside its rank from the instance file and the seed: every rank draws the K scenarios' *data*
exactly as the single-process method does (first-choice counts, or customer streams: cheap
arrays) and builds Pyomo models only for the scenarios it owns. No Pyomo object is pickled.
Two facts of the K-scenario model are global and are restored on each one-scenario model (the
write-up is models/mpi.md): the stock bounds (the spill MIP's big-M and the sample-path MIP's
unit count are maxima over all scenarios; a one-scenario model would cut the stock to what that
scenario alone can sell) and the first-stage cost (paid once, on the nonanticipative stock).

Decompositions (`solve_mpi`): ``ef`` (the extensive form, built by ``sputils.create_EF`` from
the scenario models and solved by HiGHS on rank 0; other ranks idle), ``ph`` (progressive
hedging hub with linearised proximal terms, a Lagrangian outer-bound spoke and an xhatshuffle
inner-bound spoke, so the reported gap is certified; needs P a multiple of 3, and with P = 2 the
hub and the xhatshuffle spoke run, the hub's own trivial (wait-and-see) bound being the outer
bound) and ``lshaped`` (``saa-lp-all`` only: the project's L-shaped decomposition of the
SAA-LP, `assortopt.models.saa_decomposition`, with the exact scenario LPs spread over the ranks;
mpi-sppy's own L-shaped method generates cuts with ``pyomo.contrib.benders``, whose HiGHS
subproblems fail, models/mpi.md).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import OptionError
from .instance import Instance, load_instance
from .solver import ERROR, FEASIBLE, OPTIMAL, SolverOptions, gap_of

__all__ = [
    "DECOMPOSITIONS",
    "FORMULATIONS",
    "MPIResult",
    "inparser_adder",
    "kw_creator",
    "run_bench_mpi",
    "scenario_creator",
    "scenario_denouement",
    "scenario_names_creator",
    "solve_mpi",
]

#: Methods with an mpi-sppy scenario model.
FORMULATIONS = ("saa-lp-all", "spill-mip", "mip")
DECOMPOSITIONS = ("ef", "ph", "lshaped")
#: Parameters `solve_mpi` takes (``--param KEY=VALUE`` on the command line).
PARAMS = ("rho", "iterations", "rel_gap")
#: A test hook: the rank named here raises while building its first scenario.
FAIL_RANK_ENV = "ASSORTOPT_MPI_FAIL_RANK"
_PYOMO_SOLVER = "highs"


# ============================================================================ scenario data
@dataclass
class ScenarioData:
    """Everything a rank needs to build any scenario of one SAA program (arrays only).

    ``counts`` (K, N) first-choice counts (SAA-LP, spill MIP) or ``stream`` (K scenarios of
    preference lists, sample-path MIP); ``stock_hi`` the global stock bound per first-stage
    product; ``products`` the positions of the first-stage products.
    """

    inst: Instance
    method: str
    scenarios: int
    seed: int
    products: np.ndarray
    counts: np.ndarray | None = None
    stream: Any = None
    stock_hi: np.ndarray | None = None
    need_carry: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _check_method(method: str) -> None:
    if method not in FORMULATIONS:
        raise OptionError(f"--mpi: method must be one of {', '.join(FORMULATIONS)}, got {method!r}")


@functools.lru_cache(maxsize=4)
def scenario_data(inst_path: str, method: str, scenarios: int, seed: int) -> ScenarioData:
    """The K scenarios' data of ``method`` exactly as the single-process method draws them.

    Cached per process: every scenario a rank builds reuses it. Raises `OptionError` for an
    unknown method or K < 1 and `InstanceError` for a bad instance file.
    """
    _check_method(method)
    if scenarios < 1:
        raise OptionError(f"scenarios must be >= 1, got {scenarios}")
    inst = load_instance(inst_path)
    if method in ("saa-lp-all", "spill-mip"):
        from .choice.mc import drop_self_loops
        from .models.scenario_data import first_choice_counts
        from .models.spill_mip import max_inflow

        counts = first_choice_counts(inst, None, scenarios, seed)
        data = ScenarioData(inst, method, scenarios, seed, np.arange(inst.n), counts=counts)
        # the K-scenario spill MIP's big-M (build_spill_mip): the largest inflow over all K;
        # also a valid stock bound of the SAA-LP (a unit beyond it never sells)
        vmax = max_inflow(drop_self_loops(inst.transitions), counts)
        data.stock_hi = np.maximum(np.ceil(vmax.max(axis=0) - 1e-9), 0.0)
        if method == "spill-mip":
            data.need_carry = bool(np.any(inst.fixed_cost > 0)) or inst.max_products is not None
        return data
    from .models.sample_path_mip import candidate_mask, prepare_pairs
    from .sampling import sample_streams

    stream = sample_streams(inst, scenarios, seed)
    pairs = prepare_pairs(inst, stream, candidate_mask(inst))
    need_carry = bool(np.any(inst.fixed_cost[pairs.products] > 0)) or (
        inst.max_products is not None
    )
    return ScenarioData(
        inst,
        method,
        scenarios,
        seed,
        np.asarray(pairs.products),
        stream=stream,
        stock_hi=pairs.units.astype(np.float64),
        need_carry=need_carry,
    )


def _check_fail_hook() -> None:
    want = os.environ.get(FAIL_RANK_ENV)
    if want is not None and want.strip() == str(_rank()):
        raise RuntimeError(f"{FAIL_RANK_ENV}={want}: this rank fails on purpose")


def _rank() -> int:
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank()


# ============================================================================ mpi-sppy contract
def scenario_names_creator(num_scens: int, start: int = 0) -> list[str]:
    """Scenario names ``scen0 .. scen{K-1}`` (mpi-sppy contract)."""
    return [f"scen{k}" for k in range(start, start + num_scens)]


def _scenario_index(name: str) -> int:
    if not name.startswith("scen") or not name[4:].isdigit():
        raise ValueError(f"bad scenario name {name!r} (expected scen<k>)")
    return int(name[4:])


def scenario_creator(
    scenario_name: str,
    inst_path: str = "",
    method: str = "spill-mip",
    num_scens: int = 10,
    seed: int = 0,
) -> Any:
    """One scenario's Pyomo model (mpi-sppy contract), built with the project's builders.

    Scenario k's data is row k of `scenario_data` (K = 1 for the builder); the nonanticipative
    first stage is the ``stock`` Var (plus ``carry`` when present; for ``mip`` the ``first_stock``
    and ``first_carry`` Vars linked to the scenario's own), attached with
    ``sputils.attach_root_node``; the probability is 1/K. The objective (maximised) is the
    scenario's profit, so the probability-weighted sum is the K-scenario SAA objective.
    """
    import mpisppy.utils.sputils as sputils

    _check_fail_hook()
    k = _scenario_index(scenario_name)
    data = scenario_data(str(inst_path), method, int(num_scens), int(seed))
    if not 0 <= k < data.scenarios:
        raise ValueError(f"scenario {scenario_name} outside 0..{data.scenarios - 1}")
    inst = data.inst
    if method == "mip":
        m, first_obj, nonants = _sample_path_scenario(data, k)
    else:
        if method == "saa-lp-all":
            from .models.saa_lp import build_saa_lp

            f = build_saa_lp(inst, data.counts[k : k + 1])
            f.lp.col_hi[f.var_blocks["stock"].cols.ravel()] = data.stock_hi
        else:
            from .models.spill_mip import build_spill_mip

            # the one-scenario big-M would cap the shared stock: use the K-scenario one
            f = build_spill_mip(inst, data.counts[k : k + 1], big_m=data.stock_hi)
        m = f.model
        ucost = inst.cost - inst.salvage
        first_obj = -sum(float(ucost[i]) * m.stock[inst.ids[i]] for i in range(inst.n))
        nonants = [m.stock]
        if "carry" in f.var_blocks:
            first_obj = first_obj - sum(
                float(inst.fixed_cost[i]) * m.carry[inst.ids[i]] for i in range(inst.n)
            )
            nonants.append(m.carry)
    m.name = scenario_name
    sputils.attach_root_node(m, first_obj, nonants)
    m._mpisppy_probability = 1.0 / data.scenarios
    return m


def _sample_path_scenario(data: ScenarioData, k: int) -> tuple[Any, Any, list[Any]]:
    """Scenario k of the sample-path MIP with global first-stage Vars.

    The one-scenario builder bounds its stock by what scenario k can sell (U_k) and drops
    products nobody in scenario k wants. The first stage ``first_stock`` x (bounded by the
    K-scenario U) carries the purchase cost; the scenario's ``stock`` q equals min(x, U_k),
    enforced with a binary d: q ≤ x, x − q ≤ (U − U_k) d, q ≥ U_k d (a unit beyond U_k never sells).
    """
    import pyomo.environ as pyo

    from .models.sample_path_mip import build_sample_path_mip

    inst = data.inst
    prods = data.products
    assert data.stock_hi is not None
    ids = [inst.ids[i] for i in prods]
    hi = dict(zip(ids, data.stock_hi, strict=True))
    f = build_sample_path_mip(inst, data.stream.scenario(k), "strong")
    m = f.model
    m.first_stock = pyo.Var(ids, domain=pyo.NonNegativeIntegers, bounds=lambda _m, i: (0, hi[i]))
    ucost = dict(zip(inst.ids, inst.cost - inst.salvage, strict=True))
    fixed = dict(zip(inst.ids, inst.fixed_cost, strict=True))
    first_obj = -sum(float(ucost[i]) * m.first_stock[i] for i in ids)
    nonants = [m.first_stock]
    own = f.var_blocks["stock"]
    own_ids = [own.labels[0][j] for j in range(own.cols.shape[0])]
    own_hi = dict(zip(own_ids, f.lp.col_hi[own.cols], strict=True))
    short = [i for i in own_ids if own_hi[i] < hi[i] - 1e-9]
    m.first_link = pyo.Constraint(
        [i for i in own_ids if i not in short], rule=lambda _m, i: _m.stock[i] == _m.first_stock[i]
    )
    m.first_cut = pyo.Var(short, domain=pyo.Binary)
    m.first_cut_hi = pyo.Constraint(
        short,
        rule=lambda _m, i: _m.first_stock[i] - _m.stock[i] <= (hi[i] - own_hi[i]) * _m.first_cut[i],
    )
    m.first_cut_lo = pyo.Constraint(
        short, rule=lambda _m, i: _m.stock[i] >= own_hi[i] * _m.first_cut[i]
    )
    m.first_cut_le = pyo.Constraint(short, rule=lambda _m, i: _m.stock[i] <= _m.first_stock[i])
    if data.need_carry:
        m.first_carry = pyo.Var(ids, domain=pyo.Binary)
        first_obj = first_obj - sum(float(fixed[i]) * m.first_carry[i] for i in ids)
        nonants.append(m.first_carry)
        m.first_carry_link = pyo.Constraint(
            ids, rule=lambda _m, i: _m.first_stock[i] <= hi[i] * _m.first_carry[i]
        )
        if "carry" in f.var_blocks:
            m.first_carry_own = pyo.Constraint(
                own_ids, rule=lambda _m, i: _m.carry[i] == _m.first_carry[i]
            )
        if inst.max_products is not None:
            m.first_max_products = pyo.Constraint(
                expr=sum(m.first_carry[i] for i in ids) <= inst.max_products
            )
    if inst.budget is not None:
        cost = dict(zip(inst.ids, inst.cost, strict=True))
        m.first_budget = pyo.Constraint(
            expr=sum(float(cost[i]) * m.first_stock[i] for i in ids) <= inst.budget
        )
    # the scenario's objective without its own first-stage terms, plus the global ones
    c = f.lp.c.copy()
    for blk in ("stock", "carry"):
        if blk in f.var_blocks:
            c[f.var_blocks[blk].cols.ravel()] = 0.0
    cols = f._col_vars or []
    nz = np.flatnonzero(c)
    second = sum(float(c[j]) * cols[j] for j in nz) if len(nz) else 0.0
    m.objective.deactivate()
    m.scenario_profit = pyo.Objective(expr=second + first_obj, sense=pyo.maximize)
    return m, first_obj, nonants


def kw_creator(cfg: Any) -> dict[str, Any]:
    """``scenario_creator`` keyword arguments from an mpi-sppy Config (mpi-sppy contract)."""
    return {
        "inst_path": cfg.get("instance"),
        "method": cfg.get("method", "spill-mip"),
        "num_scens": cfg.get("num_scens"),
        "seed": cfg.get("seed", 0),
    }


def inparser_adder(cfg: Any) -> None:
    """Declare this module's options on an mpi-sppy Config (mpi-sppy contract)."""
    cfg.num_scens_required()
    cfg.add_to_config("instance", "assortopt instance file", domain=str, default=None)
    cfg.add_to_config("method", "saa-lp-all, spill-mip or mip", domain=str, default="spill-mip")
    cfg.add_to_config("seed", "scenario seed", domain=int, default=0)


def scenario_denouement(rank: int, scenario_name: str, scenario: Any) -> None:
    """Nothing to report per scenario (mpi-sppy contract)."""


# ============================================================================ running
@dataclass
class MPIResult:
    """What the ranks agree on after a decomposition run (meaningful on rank 0).

    ``stock`` (N,) first-stage stock (fractional for the SAA-LP); ``objective`` the inner bound
    (value of that stock on the K scenarios); ``bound`` the outer bound; ``gap`` relative.
    """

    status: str
    stock: np.ndarray | None
    objective: float | None
    bound: float | None
    gap: float | None
    decomposition: str
    ranks: int
    time_s: float
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """mpi-sppy prints progress to stdout: keep stdout for the solution JSON."""
    sys.stdout.flush()
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _abort(comm: Any, exc: BaseException, what: str) -> None:
    """Print one line and abort every rank (a failed rank must not leave the others hanging)."""
    code = 2 if isinstance(exc, OptionError) else 1
    msg = str(exc).splitlines()[0] if str(exc) else ""
    print(
        f"assortopt: rank {comm.Get_rank()} of {comm.Get_size()} failed in {what}: "
        f"{type(exc).__name__}: {msg}",
        file=sys.stderr,
        flush=True,
    )
    # mpiexec forwards a rank's stderr asynchronously and Abort kills every rank at once: give
    # the forwarder a moment, or the one line explaining the failure can be lost (seen in CI)
    time.sleep(0.5)
    comm.Abort(code)


def _agree(comm: Any, exc: BaseException | None) -> None:
    """Collective: raise the first rank's input error everywhere (rank 0 prints it)."""
    errs = comm.allgather(None if exc is None else (type(exc).__name__, str(exc)))
    bad = next((e for e in errs if e is not None), None)
    if bad is None:
        return
    if comm.Get_rank() == 0:
        if exc is not None:
            raise exc
        raise OptionError(bad[1])
    raise SystemExit(2)


def _options_dict(options: SolverOptions) -> dict[str, Any]:
    d: dict[str, Any] = {"mip_rel_gap": options.mip_gap}
    if options.time_limit is not None:
        d["time_limit"] = float(options.time_limit)
    d["threads"] = int(options.threads or 1)
    d.update(options.highs)
    return d


def _check_params(params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise OptionError(f"--mpi does not take option(s) {', '.join(unknown)}")
    out = {"rho": 1.0, "iterations": 200, "rel_gap": 0.005}
    for k, v in params.items():
        try:
            out[k] = int(v) if k == "iterations" else float(v)
        except (TypeError, ValueError):
            raise OptionError(f"--param {k}: not a number: {v!r}") from None
    if out["rho"] <= 0 or out["iterations"] < 1 or out["rel_gap"] < 0:
        raise OptionError("--param: rho must be > 0, iterations >= 1, rel_gap >= 0")
    return out


def solve_mpi(
    inst_path: str | os.PathLike[str],
    method: str = "spill-mip",
    scenarios: int = 100,
    seed: int = 0,
    decomposition: str = "ef",
    options: SolverOptions | None = None,
    params: dict[str, Any] | None = None,
    eval_reps: int = 10000,
) -> Any:
    """Solve ``method``'s SAA program on ``scenarios`` scenarios across the MPI ranks.

    Every rank of ``MPI.COMM_WORLD`` must call it. Returns the `assortopt.api.Solution` on
    rank 0 (plan, status, objective, bound and gap of the decomposition, LP bound, out-of-sample
    evaluation over ``eval_reps`` seasons) and None on the other ranks.

    Parameters
    ----------
    inst_path
        The instance file; every rank reads it.
    method
        ``saa-lp-all``, ``spill-mip`` or ``mip``.
    scenarios, seed
        K and the seed: the scenarios are those the single-process method draws.
    decomposition
        ``ef``, ``ph`` or ``lshaped`` (``saa-lp-all`` only; see the module docstring for the
        ranks each needs).
    options
        HiGHS control for every subproblem; for ``ph`` the time limit is checked between PH
        iterations (not a hard wall-clock bound), for ``lshaped`` it bounds the whole run.
    params
        ``rho`` (PH penalty factor per unit of net cost, default 1), ``iterations`` (PH/L-shaped
        iteration limit, 200), ``rel_gap`` (stop when the certified gap is below it, 0.005).

    Raises
    ------
    OptionError
        Unknown method, decomposition or option, or a rank count the decomposition cannot use
        (on every rank; rank 0 raises it, the others exit with status 2). A rank failing later
        prints one line and aborts the whole run (``MPI_Abort``).
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    options = options or SolverOptions()
    err: BaseException | None = None
    t0 = time.perf_counter()
    try:
        _check_method(method)
        if decomposition not in DECOMPOSITIONS:
            raise OptionError(
                f"--decomposition must be one of {', '.join(DECOMPOSITIONS)}, got {decomposition!r}"
            )
        if decomposition == "lshaped" and method != "saa-lp-all":
            raise OptionError(
                f"--decomposition lshaped needs a continuous second stage: it solves saa-lp-all, "
                f"not {method} (use --decomposition ef or ph)"
            )
        if scenarios < 1:
            raise OptionError(f"scenarios must be >= 1, got {scenarios}")
        if eval_reps < 0:
            raise OptionError(f"eval_reps must be >= 0, got {eval_reps}")
        size = comm.Get_size()
        if decomposition == "ph" and size % 3 and size % 2:
            raise OptionError(f"--decomposition ph needs a multiple of 2 or 3 ranks, got {size}")
        prm = _check_params(dict(params or {}))
        inst = load_instance(inst_path)
    except (OptionError, Exception) as exc:  # noqa: BLE001  (input errors: agreed, then raised)
        err = exc
    _agree(comm, err)
    path = str(Path(inst_path))
    kw = {"inst_path": path, "method": method, "num_scens": int(scenarios), "seed": int(seed)}
    try:
        with _stdout_to_stderr():
            if decomposition == "ef":
                res = _run_ef(comm, kw, options)
            elif decomposition == "lshaped":
                res = _run_lshaped(comm, kw, options, prm, t0)
            else:
                res = _run_wheel(comm, kw, options, prm, decomposition)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001
        _abort(comm, exc, f"the {decomposition} run")
        raise  # pragma: no cover  (Abort does not return)
    if comm.Get_rank() != 0:
        return None
    assert res is not None
    res.time_s = time.perf_counter() - t0
    return _solution(inst, method, res, scenarios, seed, options, eval_reps)


def _run_ef(comm: Any, kw: dict[str, Any], options: SolverOptions) -> MPIResult | None:
    """The extensive form from the scenario models, solved by HiGHS on rank 0."""
    if comm.Get_rank() != 0:
        comm.Barrier()
        return None
    try:
        import mpisppy.utils.sputils as sputils

        from .solver import solve_lp
        from .solver.pyomo_bridge import compile_model as _compile

        names = scenario_names_creator(kw["num_scens"])
        ef = sputils.create_EF(
            names, scenario_creator, scenario_creator_kwargs=kw, suppress_warnings=True
        )
        lp, columns = _compile(ef)
        r = solve_lp(lp, options)
        stock = None
        if r.x is not None:
            value = dict(zip((id(v) for v in columns), r.x, strict=True))
            stock = _stock_from_block(getattr(ef, names[0]), kw, lambda v: value.get(id(v), 0.0))
        res = MPIResult(
            status=r.status,
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
        _abort(comm, exc, "the extensive form")
        raise  # pragma: no cover
    comm.Barrier()
    return res


class _RankScenarios:
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


def _run_lshaped(
    comm: Any, kw: dict[str, Any], options: SolverOptions, prm: dict[str, Any], t0: float
) -> MPIResult | None:
    """The SAA-LP by the project's L-shaped decomposition (`assortopt.models.saa_decomposition`)
    with its exact scenario solves spread over the ranks; master and mat-vec oracle on rank 0.

    Every rank draws the same counts and merges the same duplicate scenarios, so a scenario's
    index means the same on every rank; only stock vectors and duals travel.
    """
    from .models.saa_decomposition import LocalScenarios, merge_scenarios
    from .models.saa_lp import decomposition_chain, solve_saa_lp

    data = scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    inst = data.inst
    assert data.counts is not None
    _check_fail_hook()
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
    exact = _RankScenarios(comm, local)
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
    ok = r.status == "optimal"
    return MPIResult(
        status=OPTIMAL if ok else FEASIBLE,
        stock=r.stock_frac,
        objective=float(r.objective),
        bound=bound,
        gap=gap_of(r.objective, bound),
        decomposition="lshaped",
        ranks=comm.Get_size(),
        time_s=0.0,
        message="" if ok else f"lshaped: {r.message}",
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


def _stock_from_block(block: Any, kw: dict[str, Any], val: Any) -> np.ndarray:
    """First-stage stock (length N) read off one scenario's model."""
    data = scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    inst = data.inst
    var = block.first_stock if kw["method"] == "mip" else block.stock
    q = np.zeros(inst.n)
    for i in data.products:
        v = var[inst.ids[i]]
        q[i] = float(val(v))
    return q


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
    cfg.solver_options = " ".join(f"{k}={v}" for k, v in _options_dict(options).items())
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


def _run_wheel(
    comm: Any, kw: dict[str, Any], options: SolverOptions, prm: dict[str, Any], how: str
) -> MPIResult | None:
    """PH via WheelSpinner: hub + xhatshuffle spoke, + Lagrangian spoke when P % 3 == 0."""
    import mpisppy.utils.cfg_vanilla as vanilla
    from mpisppy.spin_the_wheel import WheelSpinner

    size = comm.Get_size()
    names = scenario_names_creator(kw["num_scens"])
    cfg = _cfg(options, prm, kw["num_scens"])
    beans = (cfg, scenario_creator, scenario_denouement, names)
    data = scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
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
        q = _stock_from_block(block, kw, lambda v: v.value if v.value is not None else 0.0)
        for i, x in enumerate(q):
            captured[str(i)] = float(x)

    try:
        wheel.write_first_stage_solution("unused.csv", first_stage_solution_writer=capture)
    except RuntimeError:
        pass  # no incumbent: reported below
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
    if stock is None or inner_f is None:
        status, msg = ERROR, f"{how}: no feasible first stage was found"
    elif gap is not None and gap <= prm["rel_gap"] + 1e-12:
        status, msg = OPTIMAL, ""
    else:
        status, msg = FEASIBLE, f"{how}: stopped at certified gap {gap}"
    return MPIResult(
        status=status,
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


def _saa_lp_plan(
    inst: Instance, res: MPIResult, scenarios: int, seed: int, options: SolverOptions
) -> Any:
    """Round the SAA-LP's fractional stock exactly as the ``saa-lp-all`` method does."""
    from .methods.base import Plan
    from .methods.heuristic import _round
    from .methods.local_search import improve, planning_stream

    x = np.asarray(res.stock)
    c = inst.max_products
    if c is not None and int((x > 1e-9).sum()) > c:
        from .methods.base import PlanRequest, get_method

        # the top-C re-solve of saa-lp-all is a single small LP: done on rank 0
        req = PlanRequest(scenarios=scenarios, seed=seed, options=options)
        plan = get_method("saa-lp-all")(inst, req)
        plan.message += "; max_products binds: rounded by the single-process saa-lp-all"
        return plan
    stream = planning_stream(inst, scenarios, seed)
    lo = np.floor(x + 1e-9).astype(np.int64)
    hi = np.ceil(x - 1e-9).astype(np.int64)
    r = improve(inst, _round(x, "nearest"), stream, lo=lo, hi=hi, candidates=hi > 0)
    return Plan(r.stock, status="heuristic", objective=r.objective)


def _solution(
    inst: Instance,
    method: str,
    res: MPIResult,
    scenarios: int,
    seed: int,
    options: SolverOptions,
    eval_reps: int,
) -> Any:
    from .api import package
    from .methods.base import Plan

    extra: dict[str, Any] = {
        "decomposition": res.decomposition,
        "ranks": res.ranks,
        "mpi_status": res.status,
        "mpi_objective": res.objective,
        "mpi_bound": res.bound,
        "mpi_gap": res.gap,
        "mpi_s": res.time_s,
        **res.extra,
    }
    if res.stock is None:
        plan = Plan(np.zeros(inst.n, np.int64), status=ERROR, message=res.message, extra=extra)
    elif method == "saa-lp-all":
        plan = _saa_lp_plan(inst, res, scenarios, seed, options)
        plan.extra.update(extra)
        plan.extra["saa_objective"] = res.objective
        if res.status not in (OPTIMAL, FEASIBLE):
            plan.status = ERROR
        if res.message:
            plan.message = (plan.message + "; " + res.message).strip("; ")
    else:
        plan = Plan.from_result(np.maximum(np.round(res.stock), 0).astype(np.int64), res, extra)
    return package(
        inst,
        method,
        plan,
        seed=seed,
        scenarios=scenarios,
        eval_reps=eval_reps,
        timings={"plan_s": res.time_s},
        params={"mpi": True, "decomposition": res.decomposition},
    )


# ============================================================================ benchmark sweeps
_TAG_ROWS, _TAG_DONE = 71, 72


def run_bench_mpi(
    config: str | os.PathLike[str], output_dir: str | os.PathLike[str], resume: bool = False
) -> Path | None:
    """`assortopt.bench.run_bench` with the cells spread over the MPI ranks.

    Rank r runs cells r, r + P, r + 2P, ... of the cells still to do (the same cell runner as
    the serial sweep, so rows are the same, timings aside); rank 0 also writes: it appends each
    cell's rows as they arrive (one write + fsync per cell, as the serial sweep) and finally
    puts the file in configuration order. ``resume`` has the serial meaning. Returns the
    results CSV on rank 0, None elsewhere. Input errors are raised on rank 0 (other ranks exit
    with status 2); a rank that fails otherwise prints one line and aborts the run.
    """
    from mpi4py import MPI

    from .bench import run as br
    from .bench.config import load_config

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    err: BaseException | None = None
    done: set[str] = set()
    cfg = cells = None
    out = Path(output_dir)
    try:
        cfg = load_config(config)
        cells = cfg.cells()
    except Exception as exc:  # noqa: BLE001
        err = exc
    _agree(comm, err)
    assert cfg is not None and cells is not None
    if rank == 0:
        try:
            done = br._prepare(out, cfg, cells, resume)
        except Exception as exc:  # noqa: BLE001
            err = exc
    _agree(comm, err if rank == 0 else None)
    done = comm.bcast(done, root=0)
    todo = [c for c in cells if c.key not in done]
    mine = todo[rank::size]
    try:
        br._init_worker()
        if rank == 0:
            _bench_root(comm, out, mine, br, size)
        else:
            for cell in mine:
                _check_fail_hook()
                comm.send(br._safe_run_cell(cell), dest=0, tag=_TAG_ROWS)
            comm.send(None, dest=0, tag=_TAG_DONE)
    except BaseException as exc:  # noqa: BLE001
        _abort(comm, exc, "the benchmark sweep")
        raise  # pragma: no cover
    comm.Barrier()
    if rank != 0:
        return None
    br._canonical_order(out, cells)
    return out / br.RESULTS_CSV


def _bench_root(comm: Any, out: Path, mine: list[Any], br: Any, size: int) -> None:
    from mpi4py import MPI

    written = 0
    others_done = 0

    def finish(rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        nonlocal written
        br._write_cell(out, rows, records)
        written += 1
        if br.AFTER_CELL is not None:
            br.AFTER_CELL(written)

    def drain(block: bool) -> None:
        nonlocal others_done
        st = MPI.Status()
        while others_done < size - 1:
            if not block and not comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
                return
            msg = comm.recv(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st)
            if st.Get_tag() == _TAG_DONE:
                others_done += 1
            else:
                finish(*msg)

    for cell in mine:
        _check_fail_hook()
        finish(*br._safe_run_cell(cell))
        drain(block=False)
    drain(block=True)
